#include "helpers.hpp"

#include <mlp/losses/regularization.hpp>

using mlp_test::MatrixD;

TEST_CASE("L1 and L2 penalties cover weights only") {
  MatrixD w(2, 2), b(2, 1), gw = MatrixD::Zero(2, 2), gb = MatrixD::Zero(2, 1);
  w << 1.0, -2.0, 0.5, 0.0;
  b << 10.0, -10.0;
  const std::vector<mlp::TensorRef<double>> params = {
      mlp::tensor_ref<double>("weight", w, &gw, true), mlp::tensor_ref<double>("bias", b, &gb, false)};
  const mlp::WeightPenalty l1(0.1, 0.0), l2(0.0, 0.01);
  CHECK(l1.value(params) == doctest::Approx(0.1 * 3.5));
  CHECK(l2.value(params) == doctest::Approx(0.01 * 5.25));
  mlp::WeightPenalty(0.1, 0.01).add_gradient(params);
  MatrixD expected(2, 2);
  expected << 0.1 + 0.02, -0.1 - 0.04, 0.1 + 0.01, 0.0;  // sign(0) = 0
  CHECK(gw.isApprox(expected, 1e-14));
  CHECK(gb.isZero());
}

TEST_CASE("L1 and L2 penalty gradients pass the finite-difference check") {
  MatrixD w = mlp_test::away_from_zero(4, 3, 3), g = MatrixD::Zero(4, 3);
  const std::vector<mlp::TensorRef<double>> params = {mlp::tensor_ref<double>("w", w, &g, true)};
  for (const auto& penalty : {mlp::WeightPenalty(1e-2, 0.0), mlp::WeightPenalty(0.0, 1e-2),
                              mlp::WeightPenalty(3e-3, 5e-3)}) {
    g.setZero();
    penalty.add_gradient(params);
    const auto report = mlp::check_gradients(params, [&] { return penalty.value(params); },
                                             1e-6, 1e-6);
    INFO("l1=", penalty.l1, " l2=", penalty.l2, ": ", report.describe());
    CHECK(report.max_rel_error < 1e-6);
  }
}

TEST_CASE("penalty lambdas are validated") {
  CHECK_THROWS_WITH_AS(mlp::WeightPenalty(-1.0, 0.0), "L1 lambda has to be >= 0, but got -1",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::WeightPenalty(0.0, std::nan("")), mlp::InvalidArgument);
  CHECK(!mlp::WeightPenalty().active());
  // Finite in double, but its gradient 2 * l2 * w is not in float (the first step wrote NaN weights).
  CHECK_THROWS_WITH_AS(mlp::WeightPenalty(0.0, 1e39).validate_for<float>(),
                       "L2 lambda 1e+39 is beyond the range of the model's float (its gradient is 2 * l2 * w)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::WeightPenalty(1e39, 0.0).validate_for<float>(),
                       "L1 lambda 1e+39 is beyond the range of the model's float", mlp::InvalidArgument);
  CHECK_NOTHROW(mlp::WeightPenalty(1e39, 1e39).validate_for<double>());
}
