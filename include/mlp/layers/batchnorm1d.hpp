// Batch normalization over the batch dimension (Ioffe & Szegedy, 2015), with PyTorch's
// nn.BatchNorm1d conventions: momentum 0.1 means running = 0.9 running + 0.1 batch; the batch is
// normalized with the BIASED variance, the running variance is updated with the UNBIASED one;
// gamma ("weight") starts at 1, beta ("bias") at 0, running_mean at 0, running_var at 1.
// The derivation of backward is in docs/derivations.md.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/detail/column_sums.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>

namespace mlp {

template <class S = float>
class BatchNorm1d final : public Layer<S> {
 public:
  explicit BatchNorm1d(Index features, double eps = 1e-5, double momentum = 0.1)
      : eps_(static_cast<S>(eps)), momentum_(static_cast<S>(momentum)) {
    detail::require(features > 0, "BatchNorm1d needs a positive number of features, but got ",
                    features);
    detail::require(eps > 0.0, "BatchNorm1d eps has to be positive, but got ", eps);
    detail::require(momentum >= 0.0 && momentum <= 1.0,
                    "BatchNorm1d momentum has to be in [0, 1], but got ", momentum);
    gamma_.setOnes(features, 1);
    beta_.setZero(features, 1);
    dgamma_.setZero(features, 1);
    dbeta_.setZero(features, 1);
    running_mean_.setZero(features, 1);
    running_var_.setOnes(features, 1);
    for (Matrix<S>* v : {&mean_, &var_, &inv_std_, &scale_, &shift_}) v->setZero(features, 1);
  }

  // Train: mu, var = mean and biased variance of each row over the B columns;
  //        xhat = (x - mu) / sqrt(var + eps);  y = gamma * xhat + beta;
  //        running_mean += m (mu - running_mean);  running_var += m (var * B/(B-1) - running_var).
  // Eval:  y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta; nothing is updated.
  const Matrix<S>& forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) override {
    const Index features = gamma_.rows();
    const Index batch = x.cols();
    detail::require(x.rows() == features, "BatchNorm1d(", features, ") expects ", features,
                    " input rows, but got ", shape_string(x.rows(), x.cols()));
    y_.resize(features, batch);
    if (mode == Mode::Eval) {
      scale_.array() = gamma_.array() / (running_var_.array() + eps_).sqrt();
      shift_.array() = beta_.array() - running_mean_.array() * scale_.array();
      y_.array() = (x.array().colwise() * scale_.col(0).array()).colwise() + shift_.col(0).array();
      trained_batch_ = 0;
      return y_;
    }
    detail::require(batch > 1, "BatchNorm1d in Train mode needs more than 1 sample per batch, "
                               "but got ", batch);
    detail::sum_columns(x, mean_);
    mean_ /= S(batch);
    xhat_.resize(features, batch);
    xhat_.array() = x.array().colwise() - mean_.col(0).array();
    detail::sum_column_products(xhat_, xhat_, var_);
    var_ /= S(batch);
    inv_std_.array() = (var_.array() + eps_).sqrt().inverse();
    xhat_.array().colwise() *= inv_std_.col(0).array();
    y_.array() = (xhat_.array().colwise() * gamma_.col(0).array()).colwise() + beta_.col(0).array();
    const S unbias = S(batch) / S(batch - 1);
    running_mean_ += momentum_ * (mean_ - running_mean_);
    running_var_ += momentum_ * (unbias * var_ - running_var_);
    trained_batch_ = batch;
    return y_;
  }

  // dbeta = sum_b dy;  dgamma = sum_b dy * xhat;
  // dx = gamma * inv_std / B * (B dy - dbeta - xhat * dgamma)   (per row).
  const Matrix<S>& backward(const Eigen::Ref<const Matrix<S>>& dy) override {
    detail::require<RuntimeError>(trained_batch_ == dy.cols(),
                                  "BatchNorm1d backward needs a preceding forward in Train mode "
                                  "on a batch of ", dy.cols(), " samples");
    MLP_ASSERT(dy.rows() == gamma_.rows(), "BatchNorm1d backward shape");
    const S batch = S(dy.cols());
    detail::sum_columns(dy, dbeta_);
    detail::sum_column_products(dy, xhat_, dgamma_);
    if (!this->input_grad_) {
      dx_.resize(0, 0);
      return dx_;
    }
    scale_.array() = gamma_.array() * inv_std_.array() / batch;
    dx_.resize(dy.rows(), dy.cols());
    dx_.array() = ((batch * dy.array()).colwise() - dbeta_.col(0).array()) -
                  xhat_.array().colwise() * dgamma_.col(0).array();
    dx_.array().colwise() *= scale_.col(0).array();
    return dx_;
  }

  std::vector<TensorRef<S>> parameters() override {
    return {tensor_ref<S>("weight", gamma_, &dgamma_, false),
            tensor_ref<S>("bias", beta_, &dbeta_, false)};
  }
  std::vector<TensorRef<S>> buffers() override {
    return {tensor_ref<S>("running_mean", running_mean_, nullptr, false),
            tensor_ref<S>("running_var", running_var_, nullptr, false)};
  }
  std::string_view kind() const override { return "BatchNorm1d"; }
  std::string describe() const override { return detail::concat("BatchNorm1d(", features(), ")"); }

  Index features() const { return gamma_.rows(); }
  const Matrix<S>& running_mean() const { return running_mean_; }
  const Matrix<S>& running_var() const { return running_var_; }
  Matrix<S>& weight() { return gamma_; }
  Matrix<S>& bias() { return beta_; }

 private:
  S eps_, momentum_;
  Matrix<S> gamma_, beta_, dgamma_, dbeta_;     // F x 1
  Matrix<S> running_mean_, running_var_;        // F x 1
  Matrix<S> mean_, var_, inv_std_, scale_, shift_;  // F x 1 scratch
  Matrix<S> xhat_, y_, dx_;                     // F x B
  Index trained_batch_ = 0;                     // B of the last Train forward, 0 after Eval
};

}  // namespace mlp
