#include "helpers.hpp"

#include <mlp/layers/dropout.hpp>

using mlp_test::MatrixD;

TEST_CASE("Dropout keeps the mean in Train mode and is the identity in Eval mode") {
  mlp::Dropout<double> dropout(0.3, 17);
  const MatrixD x = MatrixD::Constant(100, 1000, 2.0);
  const MatrixD y = dropout.forward(x, mlp::Mode::Train);
  const double kept = static_cast<double>((y.array() != 0.0).count()) / static_cast<double>(y.size());
  CHECK(kept == doctest::Approx(0.7).epsilon(0.01));
  CHECK(y.mean() == doctest::Approx(2.0).epsilon(0.01));
  // Kept units are scaled by exactly 1 / (1 - p).
  CHECK(y.maxCoeff() == doctest::Approx(2.0 / 0.7).epsilon(1e-12));
  const MatrixD z = dropout.forward(x, mlp::Mode::Eval);
  CHECK(z == x);
}

TEST_CASE("Dropout masks differ between calls and replay from the saved state") {
  mlp::Dropout<float> dropout(0.5, 3);
  const mlp::Matrix<float> x = mlp::Matrix<float>::Ones(8, 8);
  const auto state = dropout.random_state();
  const mlp::Matrix<float> a = dropout.forward(x, mlp::Mode::Train);
  const mlp::Matrix<float> b = dropout.forward(x, mlp::Mode::Train);
  CHECK(a != b);
  dropout.set_random_state(state);
  CHECK(dropout.forward(x, mlp::Mode::Train) == a);
}

TEST_CASE("Dropout gradient passes the finite-difference check with a fixed mask") {
  mlp::Dropout<double> dropout(0.4, 5);
  const auto report = mlp_test::check_layer(dropout, mlp_test::random_matrix(6, 5, 2));
  INFO(report.describe());
  CHECK(report.max_rel_error < 1e-6);
}

TEST_CASE("Dropout with p = 0 passes everything through") {
  mlp::Dropout<double> dropout(0.0, 1);
  const MatrixD x = mlp_test::random_matrix(3, 4, 1);
  CHECK(dropout.forward(x, mlp::Mode::Train) == x);
  CHECK(dropout.backward(x) == x);
}

TEST_CASE("Dropout validates p and names the bad value") {
  CHECK_THROWS_WITH_AS(mlp::Dropout<float>(1.5),
                       "dropout probability has to be in [0, 1), but got 1.5",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::Dropout<float>(1.0), mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::Dropout<float>(-0.1), mlp::InvalidArgument);
}

TEST_CASE("Dropout masks are the generator's sequential draws, two per 64-bit output") {
  const double p = 0.3;
  mlp::Dropout<double> dropout(p, 77);
  const MatrixD x = MatrixD::Ones(7, 3);  // 21 elements: an odd count uses half of the last draw
  const MatrixD y = dropout.forward(x, mlp::Mode::Train);
  mlp::Rng reference(77);
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(1.0 - p, 32));
  for (mlp::Index i = 0; i < 21; i += 2) {
    const std::uint64_t bits = reference.next_u64();
    CHECK((y.data()[i] != 0.0) == ((bits & 0xffffffffULL) < threshold));
    if (i + 1 < 21) CHECK((y.data()[i + 1] != 0.0) == ((bits >> 32) < threshold));
  }
  CHECK(dropout.random_state() == reference.state());
}
