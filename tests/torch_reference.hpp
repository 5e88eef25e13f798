// The inputs of the PyTorch reference scripts quoted in test_conv.cpp, test_pooling.cpp and
// test_batchnorm2d.cpp: exact rationals in PyTorch's (N, C, H, W) memory order, which is this
// library's batch matrix in memory order; and a comparison with the values PyTorch printed.
#pragma once

#include "helpers.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace mlp_test {

inline double ref_x(mlp::Index i) { return static_cast<double>((i * 37) % 101) / 50.0 - 1.0; }
inline double ref_dy(mlp::Index k) { return static_cast<double>((k * 29) % 89) / 44.5 - 1.0; }

// A rows x cols matrix whose element i in memory order is f(i).
inline MatrixD filled(mlp::Index rows, mlp::Index cols, double (*f)(mlp::Index)) {
  MatrixD m(rows, cols);
  for (mlp::Index i = 0; i < m.size(); ++i) m.data()[i] = f(i);
  return m;
}

// Element i of `got` (in memory order, or row-major as PyTorch stores a weight of out x ...) equals
// PyTorch's value i to 12 digits.
inline void check_values(const MatrixD& got, const std::vector<double>& expected, bool row_major = false) {
  REQUIRE(got.size() == static_cast<mlp::Index>(expected.size()));
  for (mlp::Index i = 0; i < got.size(); ++i) {
    const double value = row_major ? got(i / got.cols(), i % got.cols()) : got.data()[i];
    INFO("element " << i);
    CHECK(value == doctest::Approx(expected[static_cast<std::size_t>(i)]).epsilon(1e-12));
  }
}

}  // namespace mlp_test
