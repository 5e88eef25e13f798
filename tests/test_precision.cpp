// bf16 matrix products in the layers: close to fp32 within the bound of 8-bit inputs, selected for a
// whole model, float only, and training still learns. Conv2d: the bound on several shapes, the
// portable kernel's bits, a CNN that learns reproducibly without allocating in its steady step.
#include "alloc_counter.hpp"
#include "helpers.hpp"

#include <mlp/detail/gemm_bf16.hpp>
#include <mlp/layers/activations.hpp>
#include <mlp/layers/batchnorm.hpp>
#include <mlp/layers/conv2d.hpp>
#include <mlp/layers/flatten.hpp>
#include <mlp/layers/pooling.hpp>
#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/model/sequential.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/train/trainer.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace {

// |bf16 - fp32| <= 2^-7 sum |a||b| per element (inputs rounded to 8 significant bits, two operands)
// plus fp32 accumulation, far below that for these sizes.
void check_close(const mlp::Matrix<float>& bf16, const mlp::Matrix<float>& fp32, const mlp::Matrix<float>& scale) {
  REQUIRE(bf16.rows() == fp32.rows());
  REQUIRE(bf16.cols() == fp32.cols());
  for (mlp::Index i = 0; i < bf16.size(); ++i) {
    CHECK(std::abs(bf16.data()[i] - fp32.data()[i]) <= std::ldexp(1.0f, -7) * scale.data()[i] + 1e-6f);
  }
}

}  // namespace

TEST_CASE("Linear with bf16 products stays within the bf16 error bound of fp32, forward and backward") {
  mlp::Rng rng(3);
  mlp::Linear<float> exact(37, 19, rng), rounded(37, 19, rng);
  rounded.weight() = exact.weight();
  rounded.bias() = mlp_test::random_matrix<float>(19, 1, 4);
  exact.bias() = rounded.bias();
  exact.set_input_grad(true);
  rounded.set_input_grad(true);
  rounded.set_matmul_precision(mlp::MatmulPrecision::BFloat16);
  const auto x = mlp_test::random_matrix<float>(37, 11, 5);
  const auto dy = mlp_test::random_matrix<float>(19, 11, 6);
  const mlp::Matrix<float> y_exact = exact.forward(x, mlp::Mode::Train);
  const mlp::Matrix<float> y_bf16 = rounded.forward(x, mlp::Mode::Train);
  check_close(y_bf16 - rounded.bias().replicate(1, 11), y_exact - exact.bias().replicate(1, 11),
              exact.weight().cwiseAbs() * x.cwiseAbs());
  CHECK(y_bf16 != y_exact);  // really rounded
  const mlp::Matrix<float> dx_exact = exact.backward(dy);
  const mlp::Matrix<float> dx_bf16 = rounded.backward(dy);
  check_close(dx_bf16, dx_exact, exact.weight().cwiseAbs().transpose() * dy.cwiseAbs());
  check_close(rounded.weight_grad(), exact.weight_grad(), dy.cwiseAbs() * x.cwiseAbs().transpose());
  CHECK(rounded.bias_grad() == exact.bias_grad());  // a column sum: no product, no rounding
}

TEST_CASE("a model's precision reaches every layer, later ones too, and is for float models only") {
  mlp::MlpSpec spec;
  spec.inputs = 8;
  spec.hidden = {16};
  spec.classes = 3;
  mlp::ParameterizedMLP<float> model(spec, 1);
  model.set_matmul_precision(mlp::MatmulPrecision::BFloat16);
  const auto x = mlp_test::random_matrix<float>(8, 5, 2);
  mlp::ParameterizedMLP<float> fp32(spec, 1);
  CHECK(model.predict(x) != fp32.predict(x));
  model.set_matmul_precision(mlp::MatmulPrecision::Float32);
  CHECK(model.predict(x) == fp32.predict(x));
  mlp::ParameterizedMLP<double> wide(spec, 1);
  CHECK_THROWS_WITH_AS(wide.set_matmul_precision(mlp::MatmulPrecision::BFloat16),
                       doctest::Contains("bf16 matrix products are for float models"), mlp::InvalidArgument);
  CHECK(mlp::parse_matmul_precision("bf16") == mlp::MatmulPrecision::BFloat16);
  CHECK_THROWS_WITH_AS(mlp::parse_matmul_precision("fp16"), "unknown precision 'fp16' (expected fp32 or bf16)",
                       mlp::InvalidArgument);
}

TEST_CASE("training with bf16 products learns like fp32 and is reproducible") {
  const mlp_test::Blobs train = mlp_test::make_blobs(400, 10, 4, 1);
  auto fit = [&](mlp::MatmulPrecision precision) {
    mlp::MlpSpec spec;
    spec.inputs = 10;
    spec.hidden = {32};
    spec.classes = 4;
    mlp::ParameterizedMLP<float> model(spec, 3);
    model.set_matmul_precision(precision);
    mlp::Adam<float> adam(model.parameters(), {3e-3});
    mlp::Trainer<float> trainer(model, adam);
    mlp::DataLoader<float> loader(train.x, train.y, {32, true, false, 1});
    trainer.fit(loader, nullptr, 10);
    return std::make_pair(trainer.history().epochs.back().train_acc, model.state_dict());
  };
  const auto [acc32, state32] = fit(mlp::MatmulPrecision::Float32);
  const auto [acc16, state16] = fit(mlp::MatmulPrecision::BFloat16);
  const auto [acc16b, state16b] = fit(mlp::MatmulPrecision::BFloat16);
  CHECK(acc16 > 0.8);
  CHECK(std::abs(acc16 - acc32) < 0.05);
  CHECK(mlp_test::same_state(state16, state16b));
}

namespace {

struct Bf16ConvShape {
  mlp::Index in, out;
  mlp::Size2 kernel, stride, padding;
  mlp::Index height, width, batch;
};

// Stride 2, rectangular kernels and strides, padding on one axis, one and many channels, an odd
// number of taps (K = 25), K = 288 (two k-blocks of the bf16 GEMM), and batches of several chunks.
std::vector<Bf16ConvShape> bf16conv_shapes() {
  return {{3, 5, {3, 3}, {2, 2}, {1, 1}, 9, 8, 5},   {2, 4, {3, 2}, {2, 1}, {1, 0}, 7, 10, 6},
          {1, 3, {5, 5}, {1, 1}, {2, 2}, 8, 8, 3},   {16, 8, {3, 3}, {1, 1}, {1, 1}, 6, 6, 4},
          {32, 20, {3, 3}, {1, 1}, {1, 1}, 5, 5, 3}, {4, 7, {1, 4}, {1, 1}, {0, 2}, 5, 6, 1}};
}

// A bound layer with input gradients and a nonzero bias; the same seed gives the same weights.
template <class S>
std::unique_ptr<mlp::Conv2d<S>> bf16conv_layer(const Bf16ConvShape& c, std::uint64_t seed) {
  mlp::Rng rng(seed);
  auto conv = std::make_unique<mlp::Conv2d<S>>(c.in, c.out, c.kernel, rng, mlp::Conv2dOptions{c.stride, c.padding});
  conv->bias() = mlp_test::random_matrix<S>(c.out, 1, seed + 1);
  conv->bind(mlp::Shape{c.in, c.height, c.width});
  conv->set_input_grad(true);
  return conv;
}

// One forward and backward: y, dx, dW, db.
template <class S>
std::vector<mlp::Matrix<S>> bf16conv_run(mlp::Conv2d<S>& conv, const mlp::Matrix<S>& x, const mlp::Matrix<S>& dy) {
  std::vector<mlp::Matrix<S>> r{conv.forward(x, mlp::Mode::Train)};
  r.push_back(conv.backward(dy));
  r.push_back(conv.weight_grad());
  r.push_back(conv.bias_grad());
  return r;
}

// Every element of the four results is a sum of at most N products, each evaluated twice: fp32
// (Eigen, any order) is within gamma_N S of the exact sum, S = sum |terms| (Higham's bound for a
// sum in any order, one rounding per product and per addition); bf16 rounds both factors of every
// product (relative error u = 2^-8 each, the product of the rounded factors is exact), so is within
// (2u + u^2) S + gamma_N (1 + u)^2 S (docs/bf16.md). Hence
//     |bf16 - fp32| <= (2u + u^2 + 2 gamma_N (1 + u)^2) S + N 2^-126   (flushed tiny partial sums).
// S comes from a double layer with |W| and |b| run on |x| and |dy|. Returns the largest ratio of
// the difference to its bound (at most 1 if the check passes).
double bf16conv_check(const mlp::Matrix<float>& bf16, const mlp::Matrix<float>& fp32, const mlp::Matrix<double>& s,
                      double n) {
  REQUIRE(bf16.rows() == fp32.rows());
  REQUIRE(bf16.cols() == fp32.cols());
  REQUIRE(s.rows() == fp32.rows());
  const double u = std::ldexp(1.0, -8), u32 = std::ldexp(1.0, -24), gamma = n * u32 / (1.0 - n * u32);
  const double relative = 2.0 * u + u * u + 2.0 * gamma * (1.0 + u) * (1.0 + u), absolute = n * std::ldexp(1.0, -126);
  double worst = 0.0;
  for (mlp::Index i = 0; i < bf16.size(); ++i) {
    const double difference = std::abs(static_cast<double>(bf16.data()[i]) - static_cast<double>(fp32.data()[i]));
    const double bound = relative * s.data()[i] + absolute;
    CHECK(difference <= bound);
    worst = std::max(worst, difference / bound);
  }
  return worst;
}

bool bf16conv_fast_path_or_skip() {
  if (mlp::detail::gemm_bf16_fast_path_available()) return true;
  MESSAGE("skipped: this CPU has no AVX512_BF16, so only the portable path runs");
  return false;
}

// 1 x 8 x 8 -> Conv 6 x 8 x 8 - BatchNorm2d - ReLU - MaxPool 6 x 4 x 4 -> Conv (3 x 2, stride (2, 1),
// padding (1, 0)) 8 x 2 x 3 - ReLU - Flatten 48 - Linear 3.
mlp::Sequential<float> bf16conv_cnn(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<float> model(mlp::Shape{1, 8, 8});
  model.emplace<mlp::Conv2d<float>>(1, 6, 3, rng, mlp::Conv2dOptions{1, 1});
  model.emplace<mlp::BatchNorm2d<float>>(6);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::MaxPool2d<float>>(2);
  model.emplace<mlp::Conv2d<float>>(6, 8, mlp::Size2{3, 2}, rng, mlp::Conv2dOptions{{2, 1}, {1, 0}});
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::Flatten<float>>();
  model.emplace<mlp::Linear<float>>(model.output_shape().size(), 3, rng);
  return model;
}

}  // namespace

TEST_CASE("Conv2d with bf16 products stays within the derived bound of fp32: output, dW, db and dx") {
  std::uint64_t seed = 40;
  double worst_of_all[3] = {0.0, 0.0, 0.0};
  for (const Bf16ConvShape& c : bf16conv_shapes()) {
    INFO("Conv2d(", c.in, ", ", c.out, ", ", c.kernel.str(), ", stride ", c.stride.str(), ", padding ",
         c.padding.str(), ") on ", c.height, " x ", c.width, ", batch ", c.batch);
    const auto fp32 = bf16conv_layer<float>(c, ++seed), bf16 = bf16conv_layer<float>(c, seed);
    auto sums = bf16conv_layer<double>(c, seed);
    bf16->set_matmul_precision(mlp::MatmulPrecision::BFloat16);
    fp32->set_method(mlp::ConvMethod::Lowered);  // bf16 is lowered: the same sums, but for the rounding of the inputs
    sums->weight() = fp32->weight().cast<double>().cwiseAbs();
    sums->bias() = fp32->bias().cast<double>().cwiseAbs();
    const mlp::Index out_size = fp32->output_shape().size(), pixels = fp32->output_shape().pixels();
    const auto x = mlp_test::random_matrix<float>(c.in * c.height * c.width, c.batch, ++seed);
    const auto dy = mlp_test::random_matrix<float>(out_size, c.batch, ++seed);
    const auto exact = bf16conv_run(*fp32, x, dy), rounded = bf16conv_run(*bf16, x, dy);
    const auto s = bf16conv_run<double>(*sums, x.cast<double>().cwiseAbs(), dy.cast<double>().cwiseAbs());
    // Products per element, at most: forward K + the bias, dx O kh kw, dW all the batch's pixels (+ the chunk sums).
    const double n = static_cast<double>(fp32->weight().cols() + 1 + c.out * c.kernel.h * c.kernel.w +
                                         c.batch * (pixels + 1));
    double worst = 0.0;
    for (std::size_t r = 0; r < 3; ++r) {
      const double w = bf16conv_check(rounded[r], exact[r], s[r], n);
      worst = std::max(worst, w);
      worst_of_all[r] = std::max(worst_of_all[r], w);
      CHECK(rounded[r] != exact[r]);  // really rounded
    }
    CHECK(mlp_test::same_bits(rounded[3], exact[3]));  // db: a column sum of dy, no product
    // fp32 products would stay near 2 gamma_N / 2u of the bound; bf16's reach a fair share of it.
    CHECK(worst > 0.02);
  }
  MESSAGE("the largest error is ", worst_of_all[0], " of the bound for y, ", worst_of_all[1], " for dx, ",
          worst_of_all[2], " for dW");
}

TEST_CASE("Conv2d's bf16 products: the AVX512_BF16 kernel gives the bits of the portable one") {
  if (!bf16conv_fast_path_or_skip()) return;
  std::uint64_t seed = 70;
  for (const Bf16ConvShape& c : bf16conv_shapes()) {
    INFO("Conv2d(", c.in, ", ", c.out, ", ", c.kernel.str(), "), batch ", c.batch);
    const auto fast = bf16conv_layer<float>(c, ++seed), portable = bf16conv_layer<float>(c, seed);
    fast->set_matmul_precision(mlp::MatmulPrecision::BFloat16);
    portable->set_matmul_precision(mlp::MatmulPrecision::BFloat16);
    portable->set_bf16_path(mlp::detail::Bf16Path::Portable);
    const auto x = mlp_test::random_matrix<float>(c.in * c.height * c.width, c.batch, ++seed);
    const auto dy = mlp_test::random_matrix<float>(fast->output_shape().size(), c.batch, ++seed);
    const auto a = bf16conv_run(*fast, x, dy), b = bf16conv_run(*portable, x, dy);
    for (std::size_t r = 0; r < a.size(); ++r) CHECK(mlp_test::same_bits(a[r], b[r]));
  }
}

TEST_CASE("Conv2d: fp32 is untouched by a round trip through bf16, and double layers refuse bf16") {
  const Bf16ConvShape c{3, 5, {3, 3}, {2, 2}, {1, 1}, 9, 8, 5};
  const auto never = bf16conv_layer<float>(c, 5), switched = bf16conv_layer<float>(c, 5);
  switched->set_matmul_precision(mlp::MatmulPrecision::BFloat16);
  const auto x = mlp_test::random_matrix<float>(c.in * c.height * c.width, c.batch, 6);
  const auto dy = mlp_test::random_matrix<float>(never->output_shape().size(), c.batch, 7);
  const auto rounded = bf16conv_run(*switched, x, dy);
  switched->set_matmul_precision(mlp::MatmulPrecision::Float32);
  const auto a = bf16conv_run(*never, x, dy), b = bf16conv_run(*switched, x, dy);
  for (std::size_t r = 0; r < a.size(); ++r) CHECK(mlp_test::same_bits(a[r], b[r]));
  CHECK(rounded[0] != a[0]);

  const auto wide = bf16conv_layer<double>(c, 5);
  wide->weight() = never->weight().cast<double>();
  wide->bias() = never->bias().cast<double>();
  CHECK_THROWS_WITH_AS(wide->set_matmul_precision(mlp::MatmulPrecision::BFloat16),
                       doctest::Contains("bf16 matrix products are for float models"), mlp::InvalidArgument);
  wide->set_matmul_precision(mlp::MatmulPrecision::Float32);
  const auto xd = x.cast<double>();
  const mlp::Matrix<double> y = wide->forward(xd, mlp::Mode::Eval);
  CHECK(y.cast<float>().isApprox(a[0], 1e-5f));  // still the double products
}

TEST_CASE("a CNN with bf16 convolutions learns, twice the same bits, and its steady step allocates nothing") {
  const mlp_test::Blobs train = mlp_test::make_blobs(240, 64, 3, 1, 1.0f);
  auto fit = [&] {
    mlp::Sequential<float> model = bf16conv_cnn(11);
    model.set_matmul_precision(mlp::MatmulPrecision::BFloat16);
    mlp::Adam<float> adam(model.parameters(), {3e-3});
    mlp::Trainer<float> trainer(model, adam);
    mlp::DataLoader<float> loader(train.x, train.y, {32, true, false, 42});
    loader.start_epoch(0);
    auto batch = loader.next();
    trainer.train_step(*batch);
    trainer.train_step(*batch);
    const mlp_test::AllocationProbe probe;
    for (int i = 0; i < 5; ++i) trainer.train_step(*batch);
    CHECK(probe.count() == 0);
    const mlp::History history = trainer.fit(loader, nullptr, 12);
    return std::make_pair(history, model.state_dict());
  };
  const auto first = fit(), second = fit();
  const auto& epochs = first.first.epochs;
  INFO("train loss " << epochs.front().train_loss << " -> " << epochs.back().train_loss << ", accuracy "
                     << epochs.back().train_acc);
  CHECK(epochs.back().train_loss < 0.5 * epochs.front().train_loss);
  CHECK(epochs.back().train_acc > 0.9);  // chance is 1/3
  CHECK(mlp_test::same_state(first.second, second.second));
  CHECK(epochs.back().train_loss == second.first.epochs.back().train_loss);
}
