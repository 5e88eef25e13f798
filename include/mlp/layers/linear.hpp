// Fully connected layer, PyTorch's nn.Linear in column layout.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/detail/column_sums.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <string_view>

namespace mlp {

// Weight initialization schemes (Glorot & Bengio 2010; He et al. 2015). Biases start at zero,
// except for TorchDefault, which reproduces nn.Linear.reset_parameters().
enum class Init {
  KaimingUniform,  // U(-b, b), b = sqrt(6 / fan_in): He init for ReLU (gain sqrt(2))
  KaimingNormal,   // N(0, 2 / fan_in)
  XavierUniform,   // U(-b, b), b = sqrt(6 / (fan_in + fan_out))
  XavierNormal,    // N(0, 2 / (fan_in + fan_out))
  TorchDefault,    // weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
};

inline const char* to_string(Init init) {
  switch (init) {
    case Init::KaimingUniform: return "kaiming_uniform";
    case Init::KaimingNormal: return "kaiming_normal";
    case Init::XavierUniform: return "xavier_uniform";
    case Init::XavierNormal: return "xavier_normal";
    case Init::TorchDefault: return "torch_default";
  }
  return "?";
}

inline Init parse_init(std::string_view name) {
  for (Init init : {Init::KaimingUniform, Init::KaimingNormal, Init::XavierUniform,
                    Init::XavierNormal, Init::TorchDefault}) {
    if (name == to_string(init)) return init;
  }
  detail::fail("unknown initialization '", name,
               "' (expected kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal or "
               "torch_default)");
}

// y = W x + b 1^T.  Shapes: W out x in, b out, x in x B, y out x B.
template <class S = float>
class Linear final : public Layer<S> {
 public:
  Linear(Index in_features, Index out_features, Rng& rng, Init init = Init::KaimingUniform)
      : weight_(out_features, in_features), bias_(out_features, 1) {
    detail::require(in_features > 0 && out_features > 0,
                    "Linear needs positive sizes, but got in_features=", in_features,
                    " and out_features=", out_features);
    initialize(rng, init);
    dweight_.setZero(out_features, in_features);
    dbias_.setZero(out_features, 1);
  }

  // y = W x + b. In Train mode x is kept for backward.
  const Matrix<S>& forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) override {
    detail::require(x.rows() == in_features(), "Linear(", in_features(), ", ", out_features(),
                    ") expects ", in_features(), " input rows, but got ",
                    shape_string(x.rows(), x.cols()));
    // Start from the bias and accumulate the product onto it: Eigen's GEMM adds into its
    // destination, so this saves both the zeroing pass of `y = W x` and a separate bias pass.
    y_.resize(out_features(), x.cols());
    y_.colwise() = bias_.col(0);
    y_.noalias() += weight_ * x;
    if (mode == Mode::Train) x_ = x;
    return y_;
  }

  // dW = dy x^T, db = dy 1 (sum over the batch), dx = W^T dy.
  const Matrix<S>& backward(const Eigen::Ref<const Matrix<S>>& dy) override {
    MLP_ASSERT(dy.rows() == out_features() && dy.cols() == x_.cols(), "Linear backward shape");
    dweight_.noalias() = dy * x_.transpose();
    detail::sum_columns(dy, dbias_);
    if (this->input_grad_) {
      dx_.resize(in_features(), dy.cols());
      dx_.noalias() = weight_.transpose() * dy;
    } else {
      dx_.resize(0, 0);
    }
    return dx_;
  }

  std::vector<TensorRef<S>> parameters() override {
    return {tensor_ref<S>("weight", weight_, &dweight_, true),
            tensor_ref<S>("bias", bias_, &dbias_, false)};
  }
  std::string_view kind() const override { return "Linear"; }
  std::string describe() const override {
    return detail::concat("Linear(", in_features(), ", ", out_features(), ")");
  }

  Index in_features() const { return weight_.cols(); }
  Index out_features() const { return weight_.rows(); }
  Matrix<S>& weight() { return weight_; }
  Matrix<S>& bias() { return bias_; }
  const Matrix<S>& weight() const { return weight_; }
  const Matrix<S>& bias() const { return bias_; }
  const Matrix<S>& weight_grad() const { return dweight_; }
  const Matrix<S>& bias_grad() const { return dbias_; }

 private:
  void initialize(Rng& rng, Init init) {
    const double fan_in = static_cast<double>(in_features());
    const double fan_out = static_cast<double>(out_features());
    bias_.setZero();
    auto fill_uniform = [&rng](Matrix<S>& m, double bound) {
      for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform<S>(S(-bound), S(bound));
    };
    auto fill_normal = [&rng](Matrix<S>& m, double stddev) {
      for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.normal<S>(S(0), S(stddev));
    };
    switch (init) {
      case Init::KaimingUniform: fill_uniform(weight_, std::sqrt(6.0 / fan_in)); break;
      case Init::KaimingNormal: fill_normal(weight_, std::sqrt(2.0 / fan_in)); break;
      case Init::XavierUniform: fill_uniform(weight_, std::sqrt(6.0 / (fan_in + fan_out))); break;
      case Init::XavierNormal: fill_normal(weight_, std::sqrt(2.0 / (fan_in + fan_out))); break;
      case Init::TorchDefault:
        fill_uniform(weight_, 1.0 / std::sqrt(fan_in));
        fill_uniform(bias_, 1.0 / std::sqrt(fan_in));
        break;
    }
  }

  Matrix<S> weight_, bias_;    // out x in, out x 1
  Matrix<S> dweight_, dbias_;  // same shapes
  Matrix<S> x_;                // in x B, the input of the last Train forward
  Matrix<S> y_;                // out x B
  Matrix<S> dx_;               // in x B
};

}  // namespace mlp
