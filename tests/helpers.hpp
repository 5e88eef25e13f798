// Shared test utilities: random matrices, a layer gradient check, temporary folders.
#pragma once

#include "data_files.hpp"

#include <doctest/doctest.h>

#include <mlp/core/random.hpp>
#include <mlp/gradcheck.hpp>
#include <mlp/layers/layer.hpp>
#include <mlp/model/state_dict.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace mlp_test {

// Sets Eigen's thread count (and so mlp::thread_count()) for a scope.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(Eigen::nbThreads()) { Eigen::setNbThreads(n); }
  ~ThreadCount() { Eigen::setNbThreads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

using mlp::Index;
using MatrixD = mlp::Matrix<double>;

// doctest::Contains for a std::string built at run time (paths in messages).
inline doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

// Entries uniform in [lo, hi).
template <class S = double>
mlp::Matrix<S> random_matrix(Index rows, Index cols, std::uint64_t seed, double lo = -1.0,
                             double hi = 1.0) {
  mlp::Rng rng(seed);
  mlp::Matrix<S> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<S>(rng.uniform<double>(lo, hi));
  return m;
}

// Entries with |x| in [0.1, 1): keeps ReLU-like kinks out of reach of the finite differences.
inline MatrixD away_from_zero(Index rows, Index cols, std::uint64_t seed) {
  MatrixD m = random_matrix(rows, cols, seed, 0.1, 1.0);
  mlp::Rng signs(seed + 1);
  for (Index i = 0; i < m.size(); ++i) {
    if (signs.uniform<double>() < 0.5) m.data()[i] = -m.data()[i];
  }
  return m;
}

// Checks a layer's parameter and input gradients on L = sum(R .* layer(x)) with a random R, so
// dL/dy = R. The layer's random state is replayed before every forward (fixed dropout mask).
inline mlp::GradCheckReport check_layer(mlp::Layer<double>& layer, MatrixD x,
                                        std::uint64_t seed = 7) {
  layer.set_input_grad(true);
  const std::uint64_t state = layer.random_state();
  const MatrixD& y = layer.forward(x, mlp::Mode::Train);
  const MatrixD r = random_matrix(y.rows(), y.cols(), seed);
  MatrixD dx = layer.backward(r);
  REQUIRE(dx.rows() == x.rows());
  REQUIRE(dx.cols() == x.cols());
  std::vector<mlp::TensorRef<double>> tensors = layer.parameters();
  tensors.push_back({"input", x.data(), dx.data(), x.rows(), x.cols(), false});
  return mlp::check_gradients(tensors, [&] {
    layer.set_random_state(state);
    return (layer.forward(x, mlp::Mode::Train).array() * r.array()).sum();
  });
}

// A fresh empty folder under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("mlp_test_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Rewrites the value of the first text entry named `key` in an .mlp/.mlpckpt container file (the
// new value has the old one's length) and repairs the checksum, so the loader gets past its
// integrity checks and meets the bad value itself, as a crafted file would make it.
inline void patch_text_entry(const std::string& path, const std::string& key, const std::string& value) {
  std::string bytes = read_bytes(path);
  std::string needle(4, '\0');
  needle[0] = static_cast<char>(key.size());
  needle += key;
  const std::size_t at = bytes.find(needle);
  REQUIRE_MESSAGE(at != std::string::npos, "no entry " << key);
  const std::size_t value_at = at + needle.size() + 4;
  REQUIRE(static_cast<unsigned char>(bytes[value_at - 4]) == value.size());
  bytes.replace(value_at, value.size(), value);
  repair_container(bytes);
  write_bytes(path, bytes);
}

}  // namespace mlp_test

namespace mlp_test {

// n points in `features` dimensions around `classes` random centres (a toy classification task).
struct Blobs {
  mlp::Matrix<float> x;  // features x n
  mlp::Labels y;
};

inline Blobs make_blobs(Index n, Index features, int classes, std::uint64_t seed, float spread = 1.0f) {
  mlp::Rng rng(seed);
  mlp::Matrix<float> centres(features, classes);
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] = rng.uniform(-2.0f, 2.0f);
  Blobs b{mlp::Matrix<float>(features, n), mlp::Labels(n)};
  for (Index i = 0; i < n; ++i) {
    b.y[i] = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
    for (Index f = 0; f < features; ++f) b.x(f, i) = centres(f, b.y[i]) + rng.normal(0.0f, spread);
  }
  return b;
}

template <class S>
bool same_bits(const mlp::Matrix<S>& a, const mlp::Matrix<S>& b) {
  // (memcmp of two empty matrices would be handed null pointers, which UBSan refuses)
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(S) * static_cast<std::size_t>(a.size())) == 0);
}

template <class S>
bool same_state(const mlp::StateDict<S>& a, const mlp::StateDict<S>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || !same_bits(a[i].value, b[i].value)) return false;
  }
  return true;
}

// A user's layer y = x (dL/dx = dL/dy) for tests to derive from, with kind() of their own;
// seen(mode) runs before each forward (to record, to wait, or to throw).
class PassThrough : public mlp::Layer<float> {
 protected:
  virtual void seen(mlp::Mode /*mode*/) {}
  const mlp::Matrix<float>& forward_impl(const Eigen::Ref<const mlp::Matrix<float>>& x, mlp::Mode mode) override {
    seen(mode);
    y_ = x;
    return y_;
  }
  const mlp::Matrix<float>& backward_impl(const Eigen::Ref<const mlp::Matrix<float>>& dy) override {
    dx_ = dy;
    return dx_;
  }

 private:
  mlp::Matrix<float> y_, dx_;
};

}  // namespace mlp_test
