#include "helpers.hpp"

#include <mlp/gradcheck.hpp>

TEST_CASE("check_gradients reports a correct gradient as exact") {
  mlp_test::MatrixD w(2, 2), g(2, 2);
  w << 1.0, 2.0, 3.0, 4.0;
  g = 2.0 * w;  // d/dw sum w^2
  const auto report = mlp::check_gradients({{"w", w.data(), g.data(), 2, 2, true}},
                                           [&] { return w.squaredNorm(); });
  CHECK(report.max_rel_error < 1e-8);
  CHECK(report.checked == 4);
}

TEST_CASE("check_gradients finds a wrong gradient and says where") {
  mlp_test::MatrixD w(2, 3), g(2, 3);
  w.setConstant(0.5);
  g = 2.0 * w;
  g(1, 2) = 0.0;  // the bug
  const auto report = mlp::check_gradients({{"layer.weight", w.data(), g.data(), 2, 3, true}},
                                           [&] { return w.squaredNorm(); });
  CHECK(report.max_rel_error == doctest::Approx(1.0));
  CHECK(report.tensor == "layer.weight");
  CHECK(report.row == 1);
  CHECK(report.col == 2);
  CHECK(report.numeric == doctest::Approx(1.0));
  CHECK(report.describe().find("layer.weight(1, 2)") != std::string::npos);
}

TEST_CASE("check_gradients refuses a tensor without gradient") {
  mlp_test::MatrixD w(1, 1);
  CHECK_THROWS_WITH_AS(mlp::check_gradients({{"running_mean", w.data(), nullptr, 1, 1, false}},
                                            [] { return 0.0; }),
                       doctest::Contains("'running_mean' has no gradient"), mlp::InvalidArgument);
}
