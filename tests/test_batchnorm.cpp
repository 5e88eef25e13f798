#include "helpers.hpp"

#include <mlp/io/model_file.hpp>
#include <mlp/layers/batchnorm.hpp>
#include <mlp/model/sequential.hpp>

#include <cmath>
#include <cstring>

using mlp_test::MatrixD;
using mlp_test::random_matrix;

namespace {

// Mean and (biased or unbiased) variance of row f, by a plain loop.
void row_stats(const MatrixD& x, mlp::Index f, double& mean, double& biased, double& unbiased) {
  const auto n = static_cast<double>(x.cols());
  mean = 0.0;
  for (mlp::Index b = 0; b < x.cols(); ++b) mean += x(f, b);
  mean /= n;
  double ss = 0.0;
  for (mlp::Index b = 0; b < x.cols(); ++b) ss += (x(f, b) - mean) * (x(f, b) - mean);
  biased = ss / n;
  unbiased = ss / (n - 1.0);
}

}  // namespace

TEST_CASE("BatchNorm1d Train forward normalizes with the batch mean and biased variance") {
  mlp::BatchNorm1d<double> bn(3);
  bn.weight() = random_matrix(3, 1, 1, 0.5, 2.0);
  bn.bias() = random_matrix(3, 1, 2);
  const MatrixD x = random_matrix(3, 8, 3, -2.0, 5.0);
  const MatrixD& y = bn.forward(x, mlp::Mode::Train);
  for (mlp::Index f = 0; f < 3; ++f) {
    double mean, biased, unbiased;
    row_stats(x, f, mean, biased, unbiased);
    for (mlp::Index b = 0; b < 8; ++b) {
      const double expected =
          bn.weight()(f, 0) * (x(f, b) - mean) / std::sqrt(biased + 1e-5) + bn.bias()(f, 0);
      CHECK(y(f, b) == doctest::Approx(expected).epsilon(1e-12));
    }
  }
}

TEST_CASE("BatchNorm1d running statistics follow PyTorch's update over several steps") {
  // PyTorch: running_mean = (1 - m) running_mean + m mean;
  //          running_var  = (1 - m) running_var  + m unbiased_var;   m = 0.1, start 0 and 1.
  mlp::BatchNorm1d<double> bn(4);
  std::vector<double> rm(4, 0.0), rv(4, 1.0);
  for (int step = 0; step < 5; ++step) {
    const MatrixD x = random_matrix(4, 16, 100 + static_cast<std::uint64_t>(step), -1.0, 3.0);
    bn.forward(x, mlp::Mode::Train);
    for (mlp::Index f = 0; f < 4; ++f) {
      double mean, biased, unbiased;
      row_stats(x, f, mean, biased, unbiased);
      rm[static_cast<std::size_t>(f)] = 0.9 * rm[static_cast<std::size_t>(f)] + 0.1 * mean;
      rv[static_cast<std::size_t>(f)] = 0.9 * rv[static_cast<std::size_t>(f)] + 0.1 * unbiased;
    }
  }
  for (mlp::Index f = 0; f < 4; ++f) {
    CHECK(bn.running_mean()(f, 0) == doctest::Approx(rm[static_cast<std::size_t>(f)]).epsilon(1e-12));
    CHECK(bn.running_var()(f, 0) == doctest::Approx(rv[static_cast<std::size_t>(f)]).epsilon(1e-12));
  }
  const auto buffers = bn.buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[0].name == "running_mean");
  CHECK(buffers[1].name == "running_var");
  CHECK(buffers[2].name == "num_batches_tracked");
  CHECK(buffers[0].grad == nullptr);
  CHECK(bn.num_batches_tracked() == 5.0);
}

TEST_CASE("BatchNorm1d with momentum none keeps PyTorch's cumulative average of the batch statistics") {
  mlp::BatchNorm1d<double> bn(2, 1e-5, std::nullopt);
  std::vector<double> mean_sum(2, 0.0), var_sum(2, 0.0);
  for (int step = 0; step < 4; ++step) {
    const MatrixD x = random_matrix(2, 8, 200 + static_cast<std::uint64_t>(step), -1.0, 3.0);
    bn.forward(x, mlp::Mode::Train);
    for (mlp::Index f = 0; f < 2; ++f) {
      double mean, biased, unbiased;
      row_stats(x, f, mean, biased, unbiased);
      mean_sum[static_cast<std::size_t>(f)] += mean;
      var_sum[static_cast<std::size_t>(f)] += unbiased;
    }
  }
  // With factor 1/n at the n-th batch, the running values are the plain averages (the initial
  // 0 and 1 are fully replaced at n = 1).
  for (mlp::Index f = 0; f < 2; ++f) {
    CHECK(bn.running_mean()(f, 0) == doctest::Approx(mean_sum[static_cast<std::size_t>(f)] / 4).epsilon(1e-12));
    CHECK(bn.running_var()(f, 0) == doctest::Approx(var_sum[static_cast<std::size_t>(f)] / 4).epsilon(1e-12));
  }
  CHECK(bn.weight_grad().size() == 2);
  CHECK(!bn.momentum().has_value());
}

TEST_CASE("BatchNorm1d Eval uses the running statistics and leaves them byte-identical") {
  mlp::BatchNorm1d<float> bn(3);
  for (int step = 0; step < 3; ++step) {
    bn.forward(random_matrix<float>(3, 10, 50 + static_cast<std::uint64_t>(step), 0.0, 4.0),
               mlp::Mode::Train);
  }
  const mlp::Matrix<float> mean_before = bn.running_mean();
  const mlp::Matrix<float> var_before = bn.running_var();
  const mlp::Matrix<float> x = random_matrix<float>(3, 5, 77, -3.0, 3.0);
  const mlp::Matrix<float> y = bn.forward(x, mlp::Mode::Eval);
  CHECK(std::memcmp(mean_before.data(), bn.running_mean().data(), 3 * sizeof(float)) == 0);
  CHECK(std::memcmp(var_before.data(), bn.running_var().data(), 3 * sizeof(float)) == 0);
  for (mlp::Index f = 0; f < 3; ++f) {
    for (mlp::Index b = 0; b < 5; ++b) {
      const float expected = (x(f, b) - mean_before(f, 0)) / std::sqrt(var_before(f, 0) + 1e-5f);
      CHECK(static_cast<double>(y(f, b)) == doctest::Approx(static_cast<double>(expected)).epsilon(1e-5));
    }
  }
  // A single sample is fine in Eval mode.
  CHECK(bn.forward(x.col(0), mlp::Mode::Eval).allFinite());
}

TEST_CASE("BatchNorm1d gradients pass the finite-difference check") {
  mlp::BatchNorm1d<double> bn(4);
  bn.weight() = random_matrix(4, 1, 8, 0.5, 2.0);
  bn.bias() = random_matrix(4, 1, 9);
  const auto report = mlp_test::check_layer(bn, random_matrix(4, 6, 10, -2.0, 2.0));
  INFO(report.describe());
  CHECK(report.checked == 4 + 4 + 4 * 6);
  CHECK(report.max_rel_error < 1e-6);
}

TEST_CASE("BatchNorm1d rejects bad arguments and misuse") {
  CHECK_THROWS_WITH_AS(mlp::BatchNorm1d<float>(0), doctest::Contains("but got 0"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::BatchNorm1d<float>(3, 1e-5, 1.5), doctest::Contains("but got 1.5"),
                       mlp::InvalidArgument);
  mlp::BatchNorm1d<float> bn(3);
  CHECK_THROWS_WITH_AS(bn.forward(mlp::Matrix<float>::Ones(3, 1), mlp::Mode::Train),
                       doctest::Contains("needs more than 1 value per channel, but got a batch of 1 sample(s)"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(bn.forward(mlp::Matrix<float>::Ones(2, 4), mlp::Mode::Train),
                       "BatchNorm1d(3) expects 3 features per sample (3 rows), but got a batch of 2 x 4",
                       mlp::InvalidArgument);
  bn.forward(mlp::Matrix<float>::Ones(3, 4), mlp::Mode::Eval);
  CHECK_THROWS_AS(bn.backward(mlp::Matrix<float>::Ones(3, 4)), mlp::RuntimeError);
}

// eps was checked as a double and used as the layer's scalar: in float 1e-50 became 0 (a constant
// channel gave NaN), 1e300 infinity (every output 0), and 1e-40 a subnormal that the Trainer's
// flush_denormals read as 0 (the ninth hostile round).
TEST_CASE("BatchNorm refuses an eps that is not a normal number of its scalar type") {
  for (const double eps : {1e-50, 1e-40, 1e300, 0.0, -1e-5, std::nan("")}) {
    CAPTURE(eps);
    CHECK_THROWS_WITH_AS(mlp::BatchNorm1d<float>(4, eps),
                         mlp_test::contains("BatchNorm eps has to be a positive normal number of the layer's scalar "
                                            "type (1.17549435e-38 to 3.40282347e+38 in float), but got"),
                         mlp::InvalidArgument);
  }
  CHECK_NOTHROW(mlp::BatchNorm1d<double>(4, 1e-40));  // a normal double
  CHECK_THROWS_AS(mlp::BatchNorm2d<double>(4, 1e-320), mlp::InvalidArgument);
  CHECK_NOTHROW(mlp::BatchNorm2d<float>(4, 1e-30));
  // A file holds every eps the constructor takes (a double model of eps 1e-305 was saved, then refused).
  mlp::Sequential<double> model;
  model.emplace<mlp::BatchNorm1d<double>>(4, 1e-305);
  const mlp_test::TempDir dir("bn_eps");
  mlp::save_model(dir.file("bn.mlp"), model);
  CHECK(dynamic_cast<const mlp::BatchNorm1d<double>&>(mlp::load_model<double>(dir.file("bn.mlp")).model[0]).eps() ==
        1e-305);
}
