// Element-wise activations. Each caches its OUTPUT, from which its derivative follows, so backward
// needs no copy of the input.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/relu_mask.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <memory>
#include <string_view>

namespace mlp {

namespace detail {

// Shared plumbing: the output cache (the base class guarantees backward sees the same batch), and
// passes over ranges of columns on the library's threads (detail::for_each_column_range: a large
// activation, a CNN's, would otherwise leave the other cores idle; each column is computed as in one
// pass over the whole matrix, so the bits do not depend on the thread count).
template <class S>
class Elementwise : public Layer<S> {
 protected:
  // fn(y, x) on the same columns of y_ and x, as arrays; returns y_.
  template <class Fn>
  const Matrix<S>& forward_columns(const Eigen::Ref<const Matrix<S>>& x, Fn&& fn) {
    detail::resize_buffer(y_, x.rows(), x.cols());
    detail::for_each_column_range(x.rows(), x.cols(), [&](Index begin, Index end) {
      fn(y_.middleCols(begin, end - begin).array(), x.middleCols(begin, end - begin).array());
    });
    return y_;
  }
  // fn(dx, dy, y) on the same columns of dx_, dy and y_, as arrays; returns dx_.
  template <class Fn>
  const Matrix<S>& backward_columns(const Eigen::Ref<const Matrix<S>>& dy, Fn&& fn) {
    MLP_ASSERT(dy.rows() == y_.rows() && dy.cols() == y_.cols(), "activation backward shape");
    detail::resize_buffer(dx_, dy.rows(), dy.cols());
    detail::for_each_column_range(dy.rows(), dy.cols(), [&](Index begin, Index end) {
      const Index n = end - begin;
      fn(dx_.middleCols(begin, n).array(), dy.middleCols(begin, n).array(), y_.middleCols(begin, n).array());
    });
    return dx_;
  }
  Matrix<S> y_, dx_;  // both F x B
};


}  // namespace detail

// y = max(x, 0);  dx = dy * [y > 0].
template <class S = float>
class ReLU final : public detail::Elementwise<S> {
 public:
  std::string_view kind() const override { return "ReLU"; }
  static std::unique_ptr<ReLU> from_config(const LayerConfig& /*config*/) { return std::make_unique<ReLU>(); }

 protected:
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    return this->forward_columns(x, [](auto y, auto in) { y = in.max(S(0)); });
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    return this->backward_columns(dy, [](auto dx, auto g, auto y) {
      for (Index j = 0; j < dx.cols(); ++j) {
        detail::relu_mask(y.data() + j * y.outerStride(), g.data() + j * g.outerStride(),
                          dx.data() + j * dx.outerStride(), dx.rows());
      }
    });
  }
};

// y = x for x > 0, slope * x otherwise;  dx = dy * (y > 0 ? 1 : slope). slope >= 0 keeps the
// sign of y equal to the sign of x, which lets backward read it from the cached output.
template <class S = float>
class LeakyReLU final : public detail::Elementwise<S> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01)
      : slope_(static_cast<S>(negative_slope)), slope_given_(negative_slope) {
    detail::require(negative_slope >= 0.0 && negative_slope < 1.0,
                    "LeakyReLU negative_slope has to be in [0, 1), but got ", negative_slope);
  }
  std::string_view kind() const override { return "LeakyReLU"; }
  LayerConfig config() const override {
    LayerConfig c;
    c.set("negative_slope", slope_given_);
    return c;
  }
  static std::unique_ptr<LeakyReLU> from_config(const LayerConfig& c) {
    return std::make_unique<LeakyReLU>(c.real("negative_slope", 0.0, 0.999999));
  }
  std::string describe() const override {
    return detail::concat("LeakyReLU(", slope_given_, ")");
  }

 protected:
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    return this->forward_columns(x, [&](auto y, auto in) { y = (in > S(0)).select(in, slope_ * in); });
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    return this->backward_columns(dy, [&](auto dx, auto g, auto y) { dx = (y > S(0)).select(g, slope_ * g); });
  }
  S negative_slope() const { return slope_; }

 private:
  S slope_;
  double slope_given_;  // as configured, so a saved model stores exactly what was asked for
};

// y = 1 / (1 + exp(-x));  dx = dy * y * (1 - y).
template <class S = float>
class Sigmoid final : public detail::Elementwise<S> {
 public:
  std::string_view kind() const override { return "Sigmoid"; }
  static std::unique_ptr<Sigmoid> from_config(const LayerConfig& /*config*/) { return std::make_unique<Sigmoid>(); }

 protected:
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    return this->forward_columns(x, [](auto y, auto in) { y = in.logistic(); });
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    return this->backward_columns(dy, [](auto dx, auto g, auto y) { dx = g * y * (S(1) - y); });
  }
};

// y = tanh(x);  dx = dy * (1 - y^2).
template <class S = float>
class Tanh final : public detail::Elementwise<S> {
 public:
  std::string_view kind() const override { return "Tanh"; }
  static std::unique_ptr<Tanh> from_config(const LayerConfig& /*config*/) { return std::make_unique<Tanh>(); }

 protected:
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    return this->forward_columns(x, [](auto y, auto in) { y = in.tanh(); });
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    return this->backward_columns(dy, [](auto dx, auto g, auto y) { dx = g * (S(1) - y.square()); });
  }
};

}  // namespace mlp
