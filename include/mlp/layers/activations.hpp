// Element-wise activations. Each caches its OUTPUT, from which its derivative follows, so backward
// needs no copy of the input.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <memory>
#include <string_view>

namespace mlp {

namespace detail {

// Shared plumbing: the output cache (the base class guarantees backward sees the same batch).
template <class S>
class Elementwise : public Layer<S> {
 protected:
  void check_backward(const Eigen::Ref<const Matrix<S>>& dy) const {
    MLP_ASSERT(dy.rows() == y_.rows() && dy.cols() == y_.cols(), "activation backward shape");
    (void)dy;
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
    this->y_.resize(x.rows(), x.cols());
    this->y_.array() = x.array().max(S(0));
    return this->y_;
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    this->check_backward(dy);
    this->dx_.resize(dy.rows(), dy.cols());
    this->dx_.array() = (this->y_.array() > S(0)).select(dy.array(), S(0));
    return this->dx_;
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
    this->y_.resize(x.rows(), x.cols());
    this->y_.array() = (x.array() > S(0)).select(x.array(), slope_ * x.array());
    return this->y_;
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    this->check_backward(dy);
    this->dx_.resize(dy.rows(), dy.cols());
    this->dx_.array() = (this->y_.array() > S(0)).select(dy.array(), slope_ * dy.array());
    return this->dx_;
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
    this->y_.resize(x.rows(), x.cols());
    this->y_.array() = x.array().logistic();
    return this->y_;
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    this->check_backward(dy);
    this->dx_.resize(dy.rows(), dy.cols());
    this->dx_.array() = dy.array() * this->y_.array() * (S(1) - this->y_.array());
    return this->dx_;
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
    this->y_.resize(x.rows(), x.cols());
    this->y_.array() = x.array().tanh();
    return this->y_;
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    this->check_backward(dy);
    this->dx_.resize(dy.rows(), dy.cols());
    this->dx_.array() = dy.array() * (S(1) - this->y_.array().square());
    return this->dx_;
  }
};

}  // namespace mlp
