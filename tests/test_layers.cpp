#include "helpers.hpp"

#include <mlp/detail/relu_mask.hpp>
#include <mlp/detail/resize_buffer.hpp>
#include <mlp/layers/activations.hpp>
#include <mlp/layers/conv2d.hpp>
#include <mlp/layers/linear.hpp>
#include <mlp/layers/flatten.hpp>
#include <mlp/model/sequential.hpp>

#include <cmath>
#include <new>

using mlp_test::MatrixD;
using mlp_test::random_matrix;

TEST_CASE("Linear forward matches a naive loop") {
  mlp::Rng rng(1);
  mlp::Linear<double> layer(5, 3, rng);
  layer.bias() = random_matrix(3, 1, 2);
  const MatrixD x = random_matrix(5, 4, 3);
  const MatrixD& y = layer.forward(x, mlp::Mode::Eval);
  REQUIRE(y.rows() == 3);
  REQUIRE(y.cols() == 4);
  for (int b = 0; b < 4; ++b) {
    for (int o = 0; o < 3; ++o) {
      double expected = layer.bias()(o, 0);
      for (int i = 0; i < 5; ++i) expected += layer.weight()(o, i) * x(i, b);
      CHECK(y(o, b) == doctest::Approx(expected).epsilon(1e-12));
    }
  }
}

TEST_CASE("Linear gradients pass the finite-difference check") {
  mlp::Rng rng(4);
  mlp::Linear<double> layer(6, 4, rng);
  layer.bias() = random_matrix(4, 1, 5);
  const auto report = mlp_test::check_layer(layer, random_matrix(6, 5, 6));
  INFO(report.describe());
  CHECK(report.checked == 6 * 4 + 4 + 6 * 5);
  CHECK(report.max_rel_error < 1e-6);
}

TEST_CASE("Linear skips the input gradient when asked") {
  mlp::Rng rng(4);
  mlp::Linear<double> layer(3, 2, rng);
  layer.set_input_grad(false);
  layer.forward(random_matrix(3, 4, 1), mlp::Mode::Train);
  CHECK(layer.backward(random_matrix(2, 4, 2)).size() == 0);
  CHECK(layer.weight_grad().norm() > 0.0);
}

TEST_CASE("Linear initializations respect their bounds and variances") {
  const mlp::Index in = 400, out = 300;
  SUBCASE("Kaiming uniform: U(-sqrt(6/fan_in), sqrt(6/fan_in)), zero bias") {
    mlp::Rng rng(1);
    mlp::Linear<double> layer(in, out, rng, mlp::Init::KaimingUniform);
    const double bound = std::sqrt(6.0 / in);
    CHECK(layer.weight().maxCoeff() < bound);
    CHECK(layer.weight().minCoeff() >= -bound);
    CHECK(layer.weight().maxCoeff() > 0.99 * bound);
    const double var = layer.weight().squaredNorm() / static_cast<double>(in * out);
    CHECK(var == doctest::Approx(2.0 / in).epsilon(0.02));  // He: Var = 2 / fan_in
    CHECK(layer.bias().isZero());
  }
  SUBCASE("Xavier uniform: Var = 2 / (fan_in + fan_out)") {
    mlp::Rng rng(2);
    mlp::Linear<double> layer(in, out, rng, mlp::Init::XavierUniform);
    CHECK(layer.weight().cwiseAbs().maxCoeff() < std::sqrt(6.0 / (in + out)));
    const double var = layer.weight().squaredNorm() / static_cast<double>(in * out);
    CHECK(var == doctest::Approx(2.0 / (in + out)).epsilon(0.02));
  }
  SUBCASE("Kaiming normal and Xavier normal variances") {
    mlp::Rng rng(3);
    mlp::Linear<double> he(in, out, rng, mlp::Init::KaimingNormal);
    mlp::Linear<double> xavier(in, out, rng, mlp::Init::XavierNormal);
    CHECK(he.weight().squaredNorm() / (in * out) == doctest::Approx(2.0 / in).epsilon(0.02));
    CHECK(xavier.weight().squaredNorm() / (in * out) ==
          doctest::Approx(2.0 / (in + out)).epsilon(0.02));
  }
  SUBCASE("TorchDefault draws the bias too") {
    mlp::Rng rng(4);
    mlp::Linear<double> layer(in, out, rng, mlp::Init::TorchDefault);
    CHECK(layer.bias().cwiseAbs().maxCoeff() < 1.0 / std::sqrt(in));
    CHECK(!layer.bias().isZero());
  }
}

TEST_CASE("Linear rejects bad sizes and inputs and names the values") {
  mlp::Rng rng(1);
  CHECK_THROWS_WITH_AS(mlp::Linear<float>(0, 3, rng), doctest::Contains("in_features=0"),
                       mlp::InvalidArgument);
  mlp::Linear<float> layer(4, 2, rng);
  CHECK_THROWS_WITH_AS(layer.forward(mlp::Matrix<float>::Zero(5, 3), mlp::Mode::Eval),
                       "Linear(4, 2) expects 4 features per sample (4 rows), but got a batch of 5 x 3",
                       mlp::InvalidArgument);
  // a batch of no samples: outputs of none in Eval mode, refused in Train mode (a backward after it
  // read past the end of dy, in Linear's bias gradient and Conv2d's)
  CHECK(layer.forward(mlp::Matrix<float>::Zero(4, 0), mlp::Mode::Eval).cols() == 0);
  CHECK_THROWS_WITH_AS(layer.forward(mlp::Matrix<float>::Zero(4, 0), mlp::Mode::Train),
                       "Linear(4, 2): a Train forward needs at least 1 sample, but got a batch of 4 x 0",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(layer.backward(mlp::Matrix<float>::Zero(2, 0)), mlp::RuntimeError);  // no Train forward stands
  mlp::Sequential<float> model(mlp::Shape{1, 4, 4});
  model.emplace<mlp::Conv2d<float>>(1, 2, 3, rng);
  model.emplace<mlp::Flatten<float>>();
  model.emplace<mlp::Linear<float>>(8, 3, rng);
  CHECK_THROWS_WITH_AS(model.forward(mlp::Matrix<float>::Zero(16, 0), mlp::Mode::Train),
                       mlp_test::contains("Conv2d(1, 2, kernel_size=(3, 3)"), mlp::InvalidArgument);
  CHECK(model.forward(mlp::Matrix<float>::Zero(16, 0), mlp::Mode::Eval).cols() == 0);
  CHECK_THROWS_WITH_AS(mlp::parse_init("he"), doctest::Contains("unknown initialization 'he'"),
                       mlp::InvalidArgument);
  CHECK(mlp::parse_init("xavier_normal") == mlp::Init::XavierNormal);
}

TEST_CASE("activations match their formulas") {
  const MatrixD x = random_matrix(4, 3, 9, -3.0, 3.0);
  mlp::ReLU<double> relu;
  mlp::LeakyReLU<double> leaky(0.1);
  mlp::Sigmoid<double> sigmoid;
  mlp::Tanh<double> tanh;
  const MatrixD r = relu.forward(x, mlp::Mode::Eval);
  const MatrixD l = leaky.forward(x, mlp::Mode::Eval);
  const MatrixD s = sigmoid.forward(x, mlp::Mode::Eval);
  const MatrixD t = tanh.forward(x, mlp::Mode::Eval);
  for (mlp::Index i = 0; i < x.size(); ++i) {
    const double v = x.data()[i];
    CHECK(r.data()[i] == (v > 0 ? v : 0.0));
    CHECK(l.data()[i] == doctest::Approx(v > 0 ? v : 0.1 * v));
    CHECK(s.data()[i] == doctest::Approx(1.0 / (1.0 + std::exp(-v))).epsilon(1e-12));
    CHECK(t.data()[i] == doctest::Approx(std::tanh(v)).epsilon(1e-12));
  }
}

TEST_CASE("sigmoid and tanh saturate without NaN") {
  MatrixD x(1, 4);
  x << -1000.0, -50.0, 50.0, 1000.0;
  mlp::Sigmoid<double> sigmoid;
  mlp::Tanh<double> tanh;
  CHECK(sigmoid.forward(x, mlp::Mode::Eval).allFinite());
  CHECK(tanh.forward(x, mlp::Mode::Eval).allFinite());
  mlp::Sigmoid<float> sigmoid_f;
  CHECK(sigmoid_f.forward(x.cast<float>(), mlp::Mode::Eval).allFinite());
}

TEST_CASE("activation gradients pass the finite-difference check") {
  const MatrixD x = mlp_test::away_from_zero(5, 4, 21);
  mlp::ReLU<double> relu;
  mlp::LeakyReLU<double> leaky(0.05);
  mlp::Sigmoid<double> sigmoid;
  mlp::Tanh<double> tanh;
  for (mlp::Layer<double>* layer : std::initializer_list<mlp::Layer<double>*>{&relu, &leaky, &sigmoid, &tanh}) {
    const auto report = mlp_test::check_layer(*layer, x);
    INFO(layer->kind(), ": ", report.describe());
    CHECK(report.checked == x.size());
    CHECK(report.max_rel_error < 1e-6);
  }
}

TEST_CASE("LeakyReLU validates its slope") {
  CHECK_THROWS_WITH_AS(mlp::LeakyReLU<float>(-0.5), doctest::Contains("but got -0.5"),
                       mlp::InvalidArgument);
}

// (Eigen's resize frees before it allocates and kept the freed pointer when the allocation threw:
// the destructor freed it again, a crash while std::bad_alloc unwound; the sanitizer presets let
// the allocator return null for this test, as glibc does). Each buffer holds storage from a small
// batch first: an empty one left a null pointer behind with the old code too.
TEST_CASE("a buffer or layer output too large for memory throws std::bad_alloc and leaves nothing freed twice") {
  // (more than a 64-bit process's address space, so no allocator can give it, whatever it overcommits)
  const mlp::Index huge = mlp::Index{1} << 25;
  mlp::Matrix<float> buffer(10, 10);
  CHECK_THROWS_AS(mlp::detail::resize_buffer(buffer, huge, huge), std::bad_alloc);
  CHECK(buffer.size() == 0);
  mlp::detail::resize_buffer(buffer, 3, 4);
  CHECK(buffer.size() == 12);
  {
    // A fused ReLU's backward mask (Linear's and BatchNorm's masked_dy_): g is never read, the
    // resize comes first.
    mlp::Matrix<float> mask(4, 4), y = mlp::Matrix<float>::Ones(4, 4);
    const float never_read = 0.0f;
    const Eigen::Map<const mlp::Matrix<float>> g(&never_read, huge, huge);
    CHECK_THROWS_AS(mlp::detail::relu_mask_batch<float>(y, g, mask), std::bad_alloc);
    CHECK(mask.size() == 0);
  }
  {
    mlp::Rng rng(1);
    mlp::Linear<float> layer(1, mlp::Index{1} << 24, rng);  // 2^24 outputs per sample
    const mlp::Matrix<float> one = mlp::Matrix<float>::Ones(1, 1);
    layer.forward(one, mlp::Mode::Train);
    layer.backward(mlp::Matrix<float>::Ones(mlp::Index{1} << 24, 1));
    const mlp::Matrix<float> x = mlp::Matrix<float>::Ones(1, mlp::Index{1} << 24);  // 2^24 samples: 1 PiB of output
    CHECK_THROWS_AS(layer.forward(x, mlp::Mode::Train), std::bad_alloc);
  }  // (the layer's destructor ran here)
}

// lin.forward(lin.forward(x, m), m) wrote lin's output buffer while reading it: wrong numbers (8 to
// 41 off on a 4 to 256 wide Linear), without an error (an independent review, 2026-12-06).
TEST_CASE("a layer or a model given its own output buffer as input is refused, and a copy of it works") {
  mlp::Rng rng(3);
  mlp::Linear<float> lin(4, 4, rng);
  const mlp::Matrix<float> x = random_matrix<float>(4, 5, 1);
  const mlp::Matrix<float>& y = lin.forward(x, mlp::Mode::Train);
  CHECK_THROWS_WITH_AS(lin.forward(y, mlp::Mode::Eval),
                       "Linear(4, 4): its input is the output of its own last forward, a buffer the layer owns and "
                       "its forward overwrites while reading it; pass a copy (Matrix h = layer.forward(x, mode); "
                       "layer.forward(h, mode))",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(lin.forward(y.middleCols(2, 2), mlp::Mode::Eval), mlp::InvalidArgument);  // a block of it too
  const mlp::Matrix<float> h = y;
  const mlp::Matrix<float> expected = (lin.weight() * h).colwise() + lin.bias().col(0);
  CHECK(lin.forward(h, mlp::Mode::Train).isApprox(expected, 1e-6f));

  const mlp::Matrix<float> dy = random_matrix<float>(4, 5, 2);
  const mlp::Matrix<float>& dx = lin.backward(dy);
  CHECK_THROWS_WITH_AS(lin.backward(dx), mlp_test::contains("dL/dy is the dL/dx of its own last backward"),
                       mlp::InvalidArgument);
  const mlp::Matrix<float> dx_copy = dx;
  CHECK_NOTHROW(lin.backward(dx_copy));
  // backward only reads the output: dL/dy = y (the gradient of |y|^2 / 2) is taken, as before.
  const mlp::Matrix<float>& y_again = lin.forward(x, mlp::Mode::Train);
  const mlp::Matrix<float> y_copy = y_again;
  const mlp::Matrix<float> from_copy = lin.backward(y_copy);
  lin.forward(x, mlp::Mode::Train);
  CHECK(lin.backward(y_again) == from_copy);

  mlp::Sequential<float> model;
  model.emplace<mlp::Linear<float>>(4, 4, rng);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::Linear<float>>(4, 4, rng);
  const mlp::Matrix<float>& out = model.forward(x, mlp::Mode::Train);
  CHECK_THROWS_WITH_AS(model.forward(out, mlp::Mode::Eval),
                       mlp_test::contains("Sequential::forward: its input is the output of layer 2 (Linear(4, 4)) "
                                          "in the model's last forward"),
                       mlp::InvalidArgument);
  const mlp::Matrix<float> out_copy = out;
  CHECK_NOTHROW(model.forward(out_copy, mlp::Mode::Eval));
  CHECK_THROWS_AS(model.forward_layer(0, model.forward(x, mlp::Mode::Eval), mlp::Mode::Eval), mlp::InvalidArgument);
  const mlp::Matrix<float>& trained = model.forward(x, mlp::Mode::Train);
  CHECK_NOTHROW(model.backward(trained));
}
