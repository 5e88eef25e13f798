// L1 and L2 penalties on the WEIGHTS (tensors with decay == true: Linear and Conv2d weights; never
// biases or BatchNorm parameters):
//   penalty = l1 * sum |w| + l2 * sum w^2,   d penalty / dw = l1 * sign(w) + 2 l2 w.
// The trainer adds the penalty to the data loss it optimizes and logs the two apart. Note the
// convention: l2 * sum w^2 (no 1/2), so plain SGD sees a decay of 2 * l2 * w.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace mlp {

struct WeightPenalty {
  double l1 = 0.0;
  double l2 = 0.0;

  WeightPenalty() = default;
  WeightPenalty(double l1_lambda, double l2_lambda) : l1(l1_lambda), l2(l2_lambda) { validate(); }

  void validate() const {
    detail::require(std::isfinite(l1) && l1 >= 0.0, "L1 lambda has to be >= 0, but got ", l1);
    detail::require(std::isfinite(l2) && l2 >= 0.0, "L2 lambda has to be >= 0, but got ", l2);
  }
  // ... and fit the model's scalar type: add_gradient works in it (an l2 of 1e39 made 2 * l2 infinite
  // in float, and the first step wrote NaN into the weights).
  template <class S>
  void validate_for() const {
    validate();
    const double largest = static_cast<double>(std::numeric_limits<S>::max());
    detail::require(l1 <= largest, "L1 lambda ", l1, " is beyond the range of the model's ", sizeof(S) == 4 ? "float" : "type");
    detail::require(2.0 * l2 <= largest, "L2 lambda ", l2, " is beyond the range of the model's ", sizeof(S) == 4 ? "float" : "type",
                    " (its gradient is 2 * l2 * w)");
  }
  bool active() const { return l1 > 0.0 || l2 > 0.0; }

  // l1 * sum |w| + l2 * sum w^2 over the decayed tensors, accumulated in double.
  template <class S>
  double value(const std::vector<TensorRef<S>>& params) const {
    double abs_sum = 0.0, square_sum = 0.0;
    for (const auto& p : params) {
      if (!p.decay) continue;
      const auto w = p.value_map();
      if (l1 > 0.0) abs_sum += static_cast<double>(w.cwiseAbs().sum());
      if (l2 > 0.0) square_sum += static_cast<double>(w.squaredNorm());
    }
    return l1 * abs_sum + l2 * square_sum;
  }

  // grad += l1 * sign(w) + 2 l2 w on the decayed tensors (sign(0) = 0).
  template <class S>
  void add_gradient(const std::vector<TensorRef<S>>& params) const {
    const S a = static_cast<S>(l1), b = static_cast<S>(2.0 * l2);
    for (const auto& p : params) {
      if (!p.decay || p.grad == nullptr) continue;
      auto w = p.value_map();
      auto g = p.grad_map();
      if (l1 > 0.0) g.array() += a * w.array().sign();
      if (l2 > 0.0) g.array() += b * w.array();
    }
  }
};

}  // namespace mlp
