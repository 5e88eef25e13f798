// Random small CNNs and MLPs, a differential test of the layers' fast paths: Conv2d's lowered
// products read from the images in chunks of samples (a batch's last chunk smaller than the others),
// BatchNorm2d handing its planes to a pool and its dL/dx to the convolution before it, the fused
// ReLUs, the pools' AVX-512 kernels. Unit tests check each of these on chosen shapes; here fixed seeds
// draw shapes nobody chose (300 models; 40 under the sanitizers). The same model must give the same
// bits at 1 and 2 threads (fp32 and bf16) and fused or not, and float must agree with a double copy
// of the model (the same weights and inputs) within what float rounding can do. The double model
// runs the generic code, so that comparison checks the float-only paths (the AVX-512 ones where the
// CPU has AVX-512); formulas both share are checked by the gradient checks (test_gradcheck.cpp).
// Without OpenMP there is one thread, and the 2-thread check compares a run with itself. A
// throwaway fuzzer of this kind found the packing-buffer overflow of Conv2d's fused products
// (docs/reliability.md): with that bug back, the first test case crashes (glibc's heap check or a
// segmentation fault; ASan's report in the asan preset).
#include "helpers.hpp"

#include <mlp/mlp.hpp>

#include <doctest/doctest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace random_models {

using mlp::Index;
using mlp::Shape;
using mlp::Size2;

enum class Kind { Conv, BatchNorm2d, ReLU, MaxPool, AvgPool, Flatten, Linear, BatchNorm1d };

struct LayerSpec {
  Kind kind;
  Index out = 0;  // Conv: output channels; Linear: output features
  Size2 kernel = 1;
  Size2 stride = 1;
  Size2 padding = 0;
  bool bias = true;
};

struct ModelSpec {
  Shape input = Shape::flat(1);
  Index batch = 2;
  std::vector<LayerSpec> layers;

  std::string describe() const {
    std::ostringstream o;
    o << "input " << input.channels << " x " << input.height << " x " << input.width << ", batch " << batch << ":";
    for (const LayerSpec& l : layers) {
      switch (l.kind) {
        case Kind::Conv:
          o << " Conv2d(" << l.out << ", " << l.kernel.h << "x" << l.kernel.w << ", stride " << l.stride.h << "x"
            << l.stride.w << ", padding " << l.padding.h << "x" << l.padding.w << (l.bias ? "" : ", no bias") << ")";
          break;
        case Kind::BatchNorm2d: o << " BatchNorm2d"; break;
        case Kind::ReLU: o << " ReLU"; break;
        case Kind::MaxPool:
        case Kind::AvgPool:
          o << (l.kind == Kind::MaxPool ? " MaxPool2d(" : " AvgPool2d(") << l.kernel.h << "x" << l.kernel.w
            << ", stride " << l.stride.h << "x" << l.stride.w << ", padding " << l.padding.h << "x" << l.padding.w << ")";
          break;
        case Kind::Flatten: o << " Flatten"; break;
        case Kind::Linear: o << " Linear(" << l.out << (l.bias ? "" : ", no bias") << ")"; break;
        case Kind::BatchNorm1d: o << " BatchNorm1d"; break;
      }
    }
    return o.str();
  }
};

// Draws from mlp::Rng, which gives the same sequence everywhere (std's distributions do not).
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : rng_(seed) {}
  Index in(Index lo, Index hi) { return lo + static_cast<Index>(rng_.below(static_cast<std::uint64_t>(hi - lo + 1))); }
  bool chance(int percent) { return in(0, 99) < percent; }
  template <class T, std::size_t N>
  T pick(const T (&options)[N]) {
    return options[static_cast<std::size_t>(in(0, static_cast<Index>(N) - 1))];
  }

 private:
  mlp::Rng rng_;
};

// The output size of a window, or 0 where the window is larger than the padded input.
Index pooled(Index size, Index kernel, Index stride, Index padding) {
  return size + 2 * padding < kernel ? 0 : (size + 2 * padding - kernel) / stride + 1;
}

// A pool window that fits (padding at most half the kernel, as PyTorch requires), or none. Half
// of them the usual 2 x 2 with stride 2, which has kernels of its own.
bool pick_pool(Draw& d, const Shape& s, LayerSpec& l) {
  if (d.chance(50)) {
    l.kernel = l.stride = Size2{2, 2};
    return s.height >= 2 && s.width >= 2;
  }
  l.kernel = Size2{d.in(1, 3), d.in(1, 3)};
  l.stride = Size2{d.in(1, 2), d.in(1, 2)};
  l.padding = Size2{d.in(0, l.kernel.h / 2), d.in(0, l.kernel.w / 2)};
  return pooled(s.height, l.kernel.h, l.stride.h, l.padding.h) >= 1 && pooled(s.width, l.kernel.w, l.stride.w, l.padding.w) >= 1;
}

// Each model's random streams, apart: its shape, its parameters, its input, its dL/dy, the noise.
enum class Stream : std::uint64_t { Shape, Parameters, Input, OutputGrad, Noise };
std::uint64_t stream_seed(std::uint64_t seed, Stream stream) { return seed * 8 + static_cast<std::uint64_t>(stream); }

// Batches around the sizes where Conv2d's chunks of samples end unevenly, and small ones.
ModelSpec generate(std::uint64_t seed) {
  Draw d(stream_seed(seed, Stream::Shape));
  ModelSpec m;
  const Index batches[] = {2, 3, 5, 8, 16, 17, 31, 33, 47, 63, 65, 97, 127, 130};
  m.batch = d.pick(batches);
  if (d.chance(25)) {  // an MLP
    m.input = Shape::flat(d.in(1, 300));
  } else {
    m.input = Shape{d.chance(70) ? d.in(1, 6) : d.in(7, 40), d.in(3, 18), d.in(3, 18)};
    Shape s = m.input;
    const Index blocks = d.in(1, 3);
    for (Index b = 0; b < blocks; ++b) {
      LayerSpec conv{Kind::Conv};
      conv.out = d.chance(70) ? d.in(1, 16) : d.in(17, 48);
      if (d.chance(40)) {  // the usual 3 x 3 that keeps the size
        conv.kernel = Size2{3, 3};
        conv.padding = Size2{1, 1};
      } else {
        conv.kernel = Size2{d.in(1, 3), d.in(1, 3)};
        conv.stride = d.chance(20) ? Size2{2, d.in(1, 2)} : Size2{1, 1};
        conv.padding = Size2{d.in(0, conv.kernel.h / 2 + 1), d.in(0, conv.kernel.w / 2 + 1)};
      }
      conv.bias = d.chance(80);
      const Index h = pooled(s.height, conv.kernel.h, conv.stride.h, conv.padding.h);
      const Index w = pooled(s.width, conv.kernel.w, conv.stride.w, conv.padding.w);
      if (h < 1 || w < 1) continue;
      m.layers.push_back(conv);
      s = Shape{conv.out, h, w};
      if (d.chance(55)) m.layers.push_back({Kind::BatchNorm2d});
      if (d.chance(65)) m.layers.push_back({Kind::ReLU});
      LayerSpec pool{d.chance(60) ? Kind::MaxPool : Kind::AvgPool};
      if (d.chance(45) && pick_pool(d, s, pool)) {
        m.layers.push_back(pool);
        s = Shape{s.channels, pooled(s.height, pool.kernel.h, pool.stride.h, pool.padding.h),
                  pooled(s.width, pool.kernel.w, pool.stride.w, pool.padding.w)};
      }
    }
    m.layers.push_back({Kind::Flatten});
  }
  const Index hidden = d.in(0, 2);
  for (Index i = 0; i < hidden; ++i) {
    LayerSpec linear{Kind::Linear};
    linear.out = d.in(1, 80);
    linear.bias = d.chance(80);
    m.layers.push_back(linear);
    if (d.chance(40)) m.layers.push_back({Kind::BatchNorm1d});
    if (d.chance(70)) m.layers.push_back({Kind::ReLU});
  }
  LayerSpec last{Kind::Linear};
  last.out = d.in(1, 10);
  m.layers.push_back(last);
  return m;
}

template <class S>
mlp::Sequential<S> build(const ModelSpec& spec, std::uint64_t seed) {
  mlp::Rng init(1);  // the values are set below
  mlp::Sequential<S> model(spec.input);
  Index features = spec.input.size();
  Index channels = spec.input.channels;
  for (const LayerSpec& l : spec.layers) {
    switch (l.kind) {
      case Kind::Conv:
        model.template emplace<mlp::Conv2d<S>>(channels, l.out, l.kernel, init, mlp::Conv2dOptions{l.stride, l.padding, l.bias});
        channels = l.out;
        break;
      case Kind::BatchNorm2d: model.template emplace<mlp::BatchNorm2d<S>>(channels); break;
      case Kind::ReLU: model.template emplace<mlp::ReLU<S>>(); break;
      case Kind::MaxPool: model.template emplace<mlp::MaxPool2d<S>>(l.kernel, l.stride, l.padding); break;
      case Kind::AvgPool: model.template emplace<mlp::AvgPool2d<S>>(l.kernel, l.stride, l.padding); break;
      case Kind::Flatten:
        model.template emplace<mlp::Flatten<S>>();
        features = model.output_shape().size();
        break;
      case Kind::Linear:
        model.template emplace<mlp::Linear<S>>(features, l.out, init, mlp::Init::KaimingUniform, l.bias);
        features = l.out;
        break;
      case Kind::BatchNorm1d: model.template emplace<mlp::BatchNorm1d<S>>(features); break;
    }
  }
  // Float-representable values, so that the float and the double model hold the same weights:
  // weights by their fan-in, biases and BatchNorm's shifts in [-0.5, 0.5], its scales in [0.5, 1.5].
  mlp::Rng values(stream_seed(seed, Stream::Parameters));
  for (auto& p : model.parameters()) {
    auto map = p.value_map();
    const bool batchnorm_scale = !p.decay && p.name.find("weight") != std::string::npos;
    const bool bias = p.name.find("bias") != std::string::npos;
    const double bound = std::sqrt(6.0 / static_cast<double>(std::max<Index>(1, p.cols)));
    for (Index i = 0; i < map.size(); ++i) {
      const double v = batchnorm_scale ? values.uniform<double>(0.5, 1.5)
                       : bias          ? values.uniform<double>(-0.5, 0.5)
                                       : values.uniform<double>(-bound, bound);
      map.data()[i] = static_cast<S>(static_cast<float>(v));
    }
  }
  model.set_input_grad(true);
  return model;
}

template <class S>
struct Outcome {
  mlp::Matrix<S> y;
  mlp::Matrix<S> dx;
  std::vector<mlp::Matrix<S>> grads;
  std::vector<std::string> names;
  std::vector<mlp::Matrix<S>> stepped;
};

struct RunOptions {
  int threads = 1;
  bool fuse = true;
  mlp::MatmulPrecision precision = mlp::MatmulPrecision::Float32;
  // Each input and parameter times 1 + noise u, u uniform in [-1, 1]: -noise gives the mirror image.
  double noise = 0;
};

// Multiplies each value by 1 + noise u, u from a stream of its own (drawing it from the stream that
// made the values would change every value after the first: another model, not a perturbed one).
template <class S>
void perturb(S* values, Index count, double noise, mlp::Rng& stream) {
  for (Index i = 0; i < count; ++i) {
    values[i] = static_cast<S>(static_cast<float>(static_cast<double>(values[i]) * (1.0 + noise * stream.uniform<double>(-1.0, 1.0))));
  }
}

// One forward and backward in training mode with a given dL/dy, then one Adam step.
template <class S>
Outcome<S> run_model(const ModelSpec& spec, std::uint64_t seed, const RunOptions& options) {
  const mlp_test::ThreadCount scope(options.threads);
  mlp::Sequential<S> model = build<S>(spec, seed);
  model.set_fuse_relu(options.fuse);
  model.set_matmul_precision(options.precision);
  // Float inputs for both models (the double one gets them widened).
  mlp::Matrix<S> x =
      mlp_test::random_matrix<float>(spec.input.size(), spec.batch, stream_seed(seed, Stream::Input), -2.0, 2.0).template cast<S>();
  if (options.noise != 0) {
    mlp::Rng stream(stream_seed(seed, Stream::Noise));
    perturb(x.data(), x.size(), options.noise, stream);
    for (auto& p : model.parameters()) perturb(p.value, p.rows * p.cols, options.noise, stream);
  }
  const mlp::Matrix<S> dy =
      mlp_test::random_matrix<float>(model.output_shape().size(), spec.batch, stream_seed(seed, Stream::OutputGrad)).template cast<S>();
  Outcome<S> out;
  out.y = model.forward(x, mlp::Mode::Train);
  out.dx = model.backward(dy);
  for (auto& p : model.parameters()) {
    out.grads.emplace_back(p.grad_map());
    out.names.push_back(p.name);
  }
  mlp::Adam<S> adam(model.parameters(), {1e-2});
  adam.step();
  for (auto& p : model.parameters()) out.stepped.emplace_back(p.value_map());
  return out;
}

void check_model_bits(const Outcome<float>& a, const Outcome<float>& b, const char* what) {
  INFO(what);
  CHECK(mlp_test::same_bits(a.y, b.y));
  CHECK(mlp_test::same_bits(a.dx, b.dx));
  REQUIRE(a.grads.size() == b.grads.size());
  for (std::size_t i = 0; i < a.grads.size(); ++i) {
    INFO("parameter ", i, " (", a.names[i], ")");
    CHECK(mlp_test::same_bits(a.grads[i], b.grads[i]));
    CHECK(mlp_test::same_bits(a.stepped[i], b.stepped[i]));
  }
}

// Under the sanitizers fewer models: the asan preset builds at -O0, where a model takes about 40 times
// as long (1.1 s against 0.027 s at -O2), and ThreadSanitizer slows every memory access.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MLP_RANDOM_MODELS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MLP_RANDOM_MODELS_SANITIZED 1
#endif
#endif
#ifdef MLP_RANDOM_MODELS_SANITIZED
constexpr int kModels = 40;
#undef MLP_RANDOM_MODELS_SANITIZED
#else
constexpr int kModels = 300;
#endif
constexpr std::uint64_t kFirstSeed = 1000;

// check(seed, spec) for each of the test's models, with the model named in any failure.
template <class Check>
void for_each_model(Check&& check) {
  for (int i = 0; i < kModels; ++i) {
    const std::uint64_t seed = kFirstSeed + static_cast<std::uint64_t>(i);
    const ModelSpec spec = generate(seed);
    INFO("seed ", seed, ": ", spec.describe());
    check(seed, spec);
  }
}

}  // namespace random_models

TEST_CASE("random models: 1 and 2 threads, fused and unfused ReLUs give the same bits, fp32 and bf16") {
  using namespace random_models;
  for_each_model([](std::uint64_t seed, const ModelSpec& spec) {
    const Outcome<float> base = run_model<float>(spec, seed, {});
    check_model_bits(base, run_model<float>(spec, seed, {2, true}), "2 threads");
    check_model_bits(base, run_model<float>(spec, seed, {1, false}), "unfused");
    const RunOptions bf16{1, true, mlp::MatmulPrecision::BFloat16};
    const Outcome<float> bf16_base = run_model<float>(spec, seed, bf16);
    check_model_bits(bf16_base, run_model<float>(spec, seed, {2, true, mlp::MatmulPrecision::BFloat16}), "bf16, 2 threads");
  });
}

// Float against the double model. Each tensor's difference, as a norm, must be within 1e-3 of the
// double tensor's norm, or of a floor where that is small: for y and dL/dx 1e-6 per value, for a
// gradient 1e-3 of the largest gradient per value (a gradient small next to the others carries
// their rounding). Where it is not, the model may be ill-conditioned there: the float model itself,
// run again with its inputs and parameters perturbed by 1e-6 (about 17 float roundings) and by the
// mirror image of that noise, must move by at least a quarter of the difference. That is a
// heuristic, not a proof: a right float computation is about the exact one on inputs perturbed by
// up to its sums' lengths times 6e-8, and with a wrong max-pool kernel (docs/reliability.md) float
// differs from double by a median of 92,000 times (at least 5 times) what the noise moves it. A bias straight before a BatchNorm has
// the exact gradient 0 (BatchNorm removes any shift): there double must be about 0, and float within
// 1e-3 of the largest gradient per value, what is left of sums that cancel. (The weight of a layer
// with one input value per output before a BatchNorm has a gradient that BatchNorm's eps alone
// keeps from 0; the generator rarely makes one, and it is compared as any other gradient.)
TEST_CASE("random models: float agrees with the double model within float rounding") {
  using namespace random_models;
  for_each_model([](std::uint64_t seed, const ModelSpec& spec) {
    const Outcome<float> f = run_model<float>(spec, seed, {});
    const Outcome<double> d = run_model<double>(spec, seed, {});
    double largest = 0;
    for (const auto& g : d.grads) largest = std::max(largest, g.cwiseAbs().maxCoeff());
    // Which parameters are a bias straight before a BatchNorm (each layer's weight comes first).
    std::vector<bool> zero_gradient;
    for (std::size_t k = 0; k < spec.layers.size(); ++k) {
      const Kind kind = spec.layers[k].kind;
      const bool normalizes = kind == Kind::BatchNorm2d || kind == Kind::BatchNorm1d;
      if (kind != Kind::Conv && kind != Kind::Linear && !normalizes) continue;
      const bool next_normalizes = k + 1 < spec.layers.size() && (spec.layers[k + 1].kind == Kind::BatchNorm2d ||
                                                                  spec.layers[k + 1].kind == Kind::BatchNorm1d);
      zero_gradient.push_back(false);
      if (spec.layers[k].bias || normalizes) zero_gradient.push_back(next_normalizes);
    }
    REQUIRE(zero_gradient.size() == f.grads.size());
    struct Compared {
      std::string name;
      const mlp::Matrix<float>* single;
      const mlp::Matrix<double>* reference;
      double scale;
    };
    std::vector<Compared> tensors;
    const auto scale_of = [](const mlp::Matrix<double>& m, double floor) {
      return std::max(m.norm(), floor * std::sqrt(static_cast<double>(m.size())));
    };
    tensors.push_back({"y", &f.y, &d.y, scale_of(d.y, 1e-6)});
    tensors.push_back({"dL/dx", &f.dx, &d.dx, scale_of(d.dx, 1e-6)});
    for (std::size_t p = 0; p < f.grads.size(); ++p) {
      const std::string name = "parameter " + std::to_string(p) + " (" + f.names[p] + ")";
      if (zero_gradient[p]) {
        INFO(name, ", whose exact gradient is 0");
        CHECK(d.grads[p].cwiseAbs().maxCoeff() <= 1e-8 * largest);
        tensors.push_back({name, &f.grads[p], &d.grads[p], largest * std::sqrt(static_cast<double>(f.grads[p].size()))});
      } else {
        tensors.push_back({name, &f.grads[p], &d.grads[p], scale_of(d.grads[p], 1e-3 * largest)});
      }
    }
    const auto difference = [](const mlp::Matrix<float>& a, const mlp::Matrix<double>& b) {
      return (a.cast<double>() - b).norm();
    };
    bool all_close = true;
    for (const Compared& t : tensors) all_close = all_close && difference(*t.single, *t.reference) <= 1e-3 * t.scale;
    if (all_close) return;
    // The noise and its mirror image: a value next to a ReLU's or a max's kink moves to the other
    // side under one of them, whichever side the rounding put it on.
    double moves[2][64] = {};
    REQUIRE(tensors.size() <= 64);
    for (const int side : {0, 1}) {
      RunOptions perturbed;
      perturbed.noise = side == 0 ? 1e-6 : -1e-6;
      const Outcome<float> moved = run_model<float>(spec, seed, perturbed);
      std::vector<const mlp::Matrix<float>*> moved_tensors = {&moved.y, &moved.dx};
      for (const auto& g : moved.grads) moved_tensors.push_back(&g);
      for (std::size_t t = 0; t < tensors.size(); ++t) {
        moves[side][t] = (moved_tensors[t]->cast<double>() - tensors[t].single->cast<double>()).norm() / tensors[t].scale;
      }
    }
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      const double off = difference(*tensors[t].single, *tensors[t].reference) / tensors[t].scale;
      const double noise = std::max(moves[0][t], moves[1][t]);
      INFO(tensors[t].name, ": float differs from double by ", off, ", moves under the noise by ", noise);
      CHECK((off <= 1e-3 || off <= 4 * noise));
    }
  });
}
