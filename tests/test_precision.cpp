// bf16 matrix products in the layers: close to fp32 within the bound of 8-bit inputs, selected for a
// whole model, float only, and training still learns.
#include "helpers.hpp"

#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/train/trainer.hpp>

#include <cmath>

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
