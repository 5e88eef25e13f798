// bench_gemm: the bf16 GEMM (mlp::detail::gemm_bf16) and the library's fp32 GEMM (mlp::detail::gemm:
// its own kernel on a CPU with AVX512F, Eigen's kernel on the library's threads elsewhere) against
// Eigen's own fp32 product, side by side.
//
//   bench_gemm [--shapes all|L|M|CNN|<name>,...] [--threads 1,2] [--rounds 5] [--ms 40] [--portable]
//              [--step]
//
// For each shape (the products of a training step of the MLPs L and M and of a small CNN, batch 128)
// and each thread count: Eigen fp32 GFLOP/s, the library's fp32 GFLOP/s (the same bits at any thread
// count), bf16 GFLOP/s and the ratio of bf16 to the library's fp32 (the product training runs in fp32).
// The three alternate in
// `rounds` rounds of about `ms` milliseconds each, and each reports its best round, so that a busy
// moment on a shared machine hits both. "L step" sums the times of L's products (forward, dW, and
// dx except for the first layer). --portable also times the portable fallback (much slower). The
// "machine peak" line is what vdpbf16ps and fp32 FMA give on registers alone, at that thread count.
// --step also times a whole training step of L (LStep below) with either kind of product.
#include "common/cli.hpp"
#include "common/threads.hpp"

#include <mlp/core/types.hpp>
#include <mlp/detail/column_sums.hpp>
#include <mlp/detail/gemm.hpp>
#include <mlp/detail/gemm_bf16.hpp>
#include <mlp/optim/adam.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using mlp::Index;

struct Shape {
  std::string name;
  Index m, n, k;
  bool ta, tb;
  bool in_l_step;
};

// C (m x n) = op(A) op(B), k deep; ta / tb: the operand is stored transposed.
std::vector<Shape> all_shapes() {
  return {
      {"L1.fwd   W x", 1024, 128, 784, false, false, true},
      {"L1.dW    dy x^T", 1024, 784, 128, false, true, true},
      {"L2.fwd   W x", 1024, 128, 1024, false, false, true},
      {"L2.dW    dy x^T", 1024, 1024, 128, false, true, true},
      {"L2.dx    W^T dy", 1024, 128, 1024, true, false, true},
      {"L4.fwd   W x", 10, 128, 1024, false, false, true},
      {"L4.dW    dy x^T", 10, 1024, 128, false, true, true},
      {"L4.dx    W^T dy", 1024, 128, 10, true, false, true},
      {"M1.fwd   W x", 256, 128, 784, false, false, false},
      {"M1.dW    dy x^T", 256, 784, 128, false, true, false},
      {"M2.fwd   W x", 128, 128, 256, false, false, false},
      {"M2.dx    W^T dy", 256, 128, 128, true, false, false},
      {"CNN1.fwd W col", 32, 28 * 28 * 128, 9, false, false, false},
      {"CNN1.dW  dy col^T", 32, 9, 28 * 28 * 128, false, true, false},
      {"CNN2.fwd W col", 64, 14 * 14 * 128, 288, false, false, false},
      {"CNN2.dW  dy col^T", 64, 288, 14 * 14 * 128, false, true, false},
      {"CNN2.dx  W^T dy", 288, 14 * 14 * 128, 64, true, false, false},
      {"FC.fwd   W x", 128, 128, 3136, false, false, false},
      {"FC.dW    dy x^T", 128, 3136, 128, false, true, false},
      {"FC.dx    W^T dy", 3136, 128, 128, true, false, false},
  };
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Seconds per call of fn: calls repeated for about `ms` milliseconds.
double time_per_call(const std::function<void()>& fn, int reps) {
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) fn();
  return seconds_since(start) / reps;
}

struct Result {
  double eigen = 1e30, library = 1e30, bf16 = 1e30, portable = 1e30;  // best seconds per call
};

Result measure(const Shape& s, int rounds, double ms, bool portable, mlp::detail::GemmWorkspace& ws) {
  using Mat = mlp::Matrix<float>;
  const Mat a = Mat::Random(s.ta ? s.k : s.m, s.ta ? s.m : s.k);
  const Mat b = Mat::Random(s.tb ? s.n : s.k, s.tb ? s.k : s.n);
  Mat c(s.m, s.n);
  const auto eigen = [&] {
    if (s.ta) {
      c.noalias() = a.transpose() * b;
    } else if (s.tb) {
      c.noalias() = a * b.transpose();
    } else {
      c.noalias() = a * b;
    }
  };
  const auto bf16 = [&](mlp::detail::Bf16Path path) {
    return [&, path] {
      mlp::detail::gemm_bf16(s.m, s.n, s.k, a.data(), a.rows(), s.ta, b.data(), b.rows(), s.tb, c.data(),
                             c.rows(), false, ws, path);
    };
  };
  const auto fast = bf16(mlp::detail::Bf16Path::Auto), slow = bf16(mlp::detail::Bf16Path::Portable);
  mlp::detail::GemmBuffers<float> buffers;
  const auto library = [&] {
    mlp::detail::gemm(s.m, s.n, s.k, a.data(), a.rows(), s.ta, b.data(), b.rows(), s.tb, c.data(), c.rows(), false,
                      buffers);
  };
  // Repetitions per round from one warm-up call each.
  const auto reps_for = [&](const std::function<void()>& fn) {
    return std::max(1, static_cast<int>(ms * 1e-3 / time_per_call(fn, 1)));
  };
  const int eigen_reps = reps_for(eigen), library_reps = reps_for(library), bf16_reps = reps_for(fast);
  const int portable_reps = portable ? reps_for(slow) : 0;
  Result r;
  for (int round = 0; round < rounds; ++round) {
    r.eigen = std::min(r.eigen, time_per_call(eigen, eigen_reps));
    r.library = std::min(r.library, time_per_call(library, library_reps));
    r.bf16 = std::min(r.bf16, time_per_call(fast, bf16_reps));
    if (portable) r.portable = std::min(r.portable, time_per_call(slow, portable_reps));
  }
  return r;
}

#ifdef MLP_HAVE_AVX512BF16_CODE
// The machine's peak: independent vdpbf16ps (or fp32 FMA) chains on registers, 24 accumulators,
// 64 (or 32) floating-point operations per instruction.
template <bool Bf16>
MLP_AVX512BF16_TARGET __attribute__((noinline)) float register_loop(long iterations) {
  __m512 acc[24];
  for (__m512& x : acc) x = _mm512_setzero_ps();
  __m512i a = _mm512_set1_epi32(0x3F803F80), b = _mm512_set1_epi32(0x3C003C00);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) {
      acc[i] = Bf16 ? _mm512_dpbf16_ps(acc[i], reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b))
                    : _mm512_fmadd_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), acc[i]);
    }
    __asm__ volatile("" : "+v"(a));  // keeps the loop from being folded
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 24; ++i) sum = _mm512_add_ps(sum, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  return lanes[0] + lanes[15];
}

// GFLOP/s of the register loop on `threads` threads at once (best of a few 20 ms runs).
template <bool Bf16>
double peak_gflops(int threads) {
  const long iterations = 200000;
  double best = 1e30;
  float sink = 0.0f;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sink)
#endif
    sink += register_loop<Bf16>(iterations);
    best = std::min(best, seconds_since(start));
  }
  if (sink == 1.0f) std::printf(" ");
  return static_cast<double>(threads) * static_cast<double>(iterations) * 24.0 * (Bf16 ? 64.0 : 32.0) / best / 1e9;
}
#endif

// A training step of the MLP L (784-1024-1024-1024-10, ReLU, batch 128, Adam) written out with the
// library's conventions (y = b, y += W x; dW = dy x^T, db = sum dy, dx = W^T dy; mlp::Adam), with
// its matrix products done in fp32 by detail::gemm (what Linear runs: the library's own kernel on a
// CPU with AVX512F) or by gemm_bf16: what the bf16 products give a whole step. The loss gradient is a stand-in (logits / B), as cheap as the
// real one.
class LStep {
 public:
  LStep() {
    const Index widths[] = {784, 1024, 1024, 1024, 10};
    for (int l = 0; l < 4; ++l) {
      Dense d;
      d.w = mlp::Matrix<float>::Random(widths[l + 1], widths[l]) * 0.03f;
      d.b = mlp::Matrix<float>::Zero(widths[l + 1], 1);
      d.dw.resize(d.w.rows(), d.w.cols());
      d.db.resize(d.b.rows(), 1);
      layers_.push_back(std::move(d));
    }
    x_ = mlp::Matrix<float>::Random(784, kBatch);
    std::vector<mlp::TensorRef<float>> refs;
    for (Dense& d : layers_) {
      refs.push_back({"w", d.w.data(), d.dw.data(), d.w.rows(), d.w.cols(), true, &d.w, &d.dw});
      refs.push_back({"b", d.b.data(), d.db.data(), d.b.rows(), 1, false, &d.b, &d.db});
    }
    adam_ = std::make_unique<mlp::Adam<float>>(std::move(refs), mlp::AdamOptions{});
  }

  void step(bool bf16) {
    const mlp::Matrix<float>* in = &x_;
    for (std::size_t l = 0; l < layers_.size(); ++l) {  // forward, ReLU between layers
      Dense& d = layers_[l];
      d.x = in;
      d.y.resize(d.w.rows(), kBatch);
      d.y.colwise() = d.b.col(0);
      product(bf16, d.w, false, *in, false, d.y, true);
      if (l + 1 < layers_.size()) d.y = d.y.cwiseMax(0.0f);
      in = &d.y;
    }
    dy_ = layers_.back().y * (1.0f / kBatch);
    for (std::size_t l = layers_.size(); l-- > 0;) {  // backward
      Dense& d = layers_[l];
      if (l + 1 < layers_.size()) dy_ = (d.y.array() > 0.0f).select(dy_, 0.0f);
      product(bf16, dy_, false, *d.x, true, d.dw, false);
      mlp::detail::sum_columns(dy_, d.db);
      if (l > 0) {
        d.dx.resize(d.w.cols(), kBatch);
        product(bf16, d.w, true, dy_, false, d.dx, false);
        dy_ = d.dx;
      }
    }
    adam_->step();
  }

 private:
  static constexpr Index kBatch = 128;
  struct Dense {
    mlp::Matrix<float> w, b, dw, db, y, dx;
    const mlp::Matrix<float>* x = nullptr;
  };

  // c = op(a) op(b) (+ c when accumulate).
  void product(bool bf16, const mlp::Matrix<float>& a, bool ta, const mlp::Matrix<float>& b, bool tb,
               mlp::Matrix<float>& c, bool accumulate) {
    if (bf16) {
      mlp::detail::gemm_bf16(c.rows(), c.cols(), ta ? a.rows() : a.cols(), a.data(), a.rows(), ta, b.data(),
                             b.rows(), tb, c.data(), c.rows(), accumulate, ws_);
    } else {
      mlp::detail::gemm(c.rows(), c.cols(), ta ? a.rows() : a.cols(), a.data(), a.rows(), ta, b.data(), b.rows(), tb,
                        c.data(), c.rows(), accumulate, buffers_);
    }
  }

  std::vector<Dense> layers_;
  mlp::detail::GemmBuffers<float> buffers_;
  mlp::Matrix<float> x_, dy_;
  std::unique_ptr<mlp::Adam<float>> adam_;
  mlp::detail::GemmWorkspace ws_;
};

// Best milliseconds per step of fp32 and of bf16, alternating in rounds.
std::pair<double, double> time_l_step(int rounds, double ms) {
  LStep net;
  const auto time = [&](bool bf16, int reps) {
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) net.step(bf16);
    return seconds_since(start) / reps * 1e3;
  };
  time(false, 2);
  time(true, 2);
  const int reps = std::max(1, static_cast<int>(ms / time(false, 1)));
  double fp32 = 1e30, bf16 = 1e30;
  for (int round = 0; round < rounds; ++round) {
    fp32 = std::min(fp32, time(false, reps));
    bf16 = std::min(bf16, time(true, reps));
  }
  return {fp32, bf16};
}

bool selected(const Shape& s, const std::vector<std::string>& which) {
  for (const auto& w : which) {
    if (w == "all" || s.name.rfind(w, 0) == 0) return true;
    if (w == "CNN" && s.name.rfind("FC", 0) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("bench_gemm", [&] {
    cxxopts::Options options("bench_gemm", "bf16 GEMM against the library's and Eigen's fp32 GEMM");
    options.add_options()
      ("shapes", "all, or name prefixes: L, M, CNN (with FC), L2.fwd, ...",
       cxxopts::value<std::string>()->default_value("all"))
      ("threads", "thread counts to measure", cxxopts::value<std::string>()->default_value("1,2"))
      ("rounds", "alternating rounds per measurement", cxxopts::value<std::string>()->default_value("5"))
      ("ms", "milliseconds per round", cxxopts::value<std::string>()->default_value("40"))
      ("portable", "also time the portable fallback", cxxopts::value<bool>()->default_value("false"))
      ("step", "also time a training step of L with each", cxxopts::value<bool>()->default_value("false"))
      ("h,help", "print this help");
    const auto parsed = cli::parse_flags(options, argc, argv);
    if (!parsed) return 0;
    const cxxopts::ParseResult& flags = *parsed;
    const int rounds = static_cast<int>(cli::int_flag(flags, "rounds", 1, 1000));
    const double ms = static_cast<double>(cli::int_flag(flags, "ms", 1, 100000));
    const bool portable = flags["portable"].as<bool>(), step = flags["step"].as<bool>();
    std::vector<std::string> which;
    {
      std::string list = flags["shapes"].as<std::string>(), item;
      std::stringstream in(list);
      while (std::getline(in, item, ',')) which.push_back(item);
    }
    const std::vector<Shape> shapes = all_shapes();
    if (std::none_of(shapes.begin(), shapes.end(), [&](const Shape& s) { return selected(s, which); })) {
      throw cli::UsageError("--shapes: no product matches '" + flags["shapes"].as<std::string>() +
                            "' (all, or name prefixes such as L, M, CNN, L2.fwd)");
    }
    const auto thread_counts = cli::runnable_thread_counts(
        cli::parse_thread_counts(flags["threads"].as<std::string>(), "threads", flags.count("threads") > 0));
    if (!mlp::detail::gemm_bf16_fast_path_available()) {
      std::printf("note: this CPU has no AVX512_BF16; the bf16 column is the portable fallback\n");
    }
    mlp::detail::GemmWorkspace ws;
    // The first product of a process runs slow for Eigen (about 60 instead of 150 GFLOP/s here,
    // whatever the shape, for as long as its matrices live): measure one throwaway shape first.
    measure(all_shapes()[2], 1, 5.0, false, ws);
    std::printf("%-18s %6s %6s %6s %3s %10s %10s %10s %9s%s\n", "shape", "m", "n", "k", "thr", "Eigen fp32",
                "lib fp32", "bf16 GF/s", "bf16/lib", portable ? "  portable GF/s" : "");
    for (const Index threads : thread_counts) {
      const int t = cli::set_threads(static_cast<int>(threads));
#ifdef MLP_HAVE_AVX512BF16_CODE
      if (mlp::detail::gemm_bf16_fast_path_available()) {
        const double fma = peak_gflops<false>(t), dot = peak_gflops<true>(t);
        std::printf("%-18s %20s %3d %10s %10.1f %10.1f %8.2fx   (fp32 FMA and vdpbf16ps on registers only)\n",
                    "machine peak", "", t, "", fma, dot, dot / fma);
      }
#endif
      double l_eigen = 0.0, l_library = 0.0, l_bf16 = 0.0, l_flops = 0.0;
      for (const Shape& s : all_shapes()) {
        if (!selected(s, which)) continue;
        const Result r = measure(s, rounds, ms, portable, ws);
        const double flops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
        std::printf("%-18s %6ld %6ld %6ld %3d %10.1f %10.1f %10.1f %8.2fx", s.name.c_str(), static_cast<long>(s.m),
                    static_cast<long>(s.n), static_cast<long>(s.k), t, flops / r.eigen / 1e9,
                    flops / r.library / 1e9, flops / r.bf16 / 1e9, r.library / r.bf16);
        if (portable) std::printf("  %14.2f", flops / r.portable / 1e9);
        std::printf("\n");
        std::fflush(stdout);
        if (s.in_l_step) {
          // Layer 3 of L has the shapes of layer 2.
          const double times = s.name.rfind("L2", 0) == 0 ? 2.0 : 1.0;
          l_eigen += times * r.eigen;
          l_library += times * r.library;
          l_bf16 += times * r.bf16;
          l_flops += times * flops;
        }
      }
      if (step) {
        const auto [fp32_ms, bf16_ms] = time_l_step(rounds, ms);
        // fp32 through the library's products (detail::gemm), as training runs it.
        std::printf("%-18s %20s %3d %10s %7.2f ms %7.2f ms %8.2fx   (forward, backward, Adam)\n", "L training step", "",
                    t, "", fp32_ms, bf16_ms, fp32_ms / bf16_ms);
      }
      if (l_flops > 0.0) {
        std::printf("%-18s %6s %6s %6s %3d %10.1f %10.1f %10.1f %8.2fx   (lib fp32 %.2f ms, bf16 %.2f ms)\n",
                    "L step products", "", "", "", t, l_flops / l_eigen / 1e9, l_flops / l_library / 1e9,
                    l_flops / l_bf16 / 1e9, l_library / l_bf16, l_library * 1e3, l_bf16 * 1e3);
      }
    }
    return 0;
  });
}
