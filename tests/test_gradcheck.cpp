#include "helpers.hpp"

#include <mlp/gradcheck.hpp>

#include <limits>
#include <vector>

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

TEST_CASE("check_gradients refuses settings under which any gradient would pass") {
  // (a floor of inf gave every element an error of 0; an eps of 1e-300 left w + eps == w, so the
  // numeric gradient was 0 and a gradient of zeros passed; an empty list passed, 0 elements checked)
  mlp_test::MatrixD w(1, 2), zero(1, 2);
  w << 1.0, 2.0;
  zero.setZero();  // wrong: the gradient is 2w
  const std::vector<mlp::TensorRef<double>> tensors{{"w", w.data(), zero.data(), 1, 2, true}};
  const auto loss = [&] { return w.squaredNorm(); };
  CHECK_THROWS_WITH_AS(mlp::check_gradients(tensors, loss, 1e-6, std::numeric_limits<double>::infinity()),
                       "check_gradients needs a finite eps > 0 and a finite floor > 0, got eps=1e-06 floor=inf",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::check_gradients(tensors, loss, std::numeric_limits<double>::quiet_NaN()), mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::check_gradients(tensors, loss, 1e-300),
                       "check_gradients: eps 1e-300 does not change w(0, 0) = 1 in double precision; use a larger eps "
                       "(the default is 1e-6)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::check_gradients({}, loss), "check_gradients: no tensor to check", mlp::InvalidArgument);
  CHECK(mlp::check_gradients(tensors, loss).max_rel_error == doctest::Approx(1.0));  // the zeros are caught
}
