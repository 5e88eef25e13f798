// Fully connected layer, PyTorch's nn.Linear in column layout.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/detail/column_sums.hpp"
#include "mlp/detail/gemm.hpp"
#include "mlp/detail/gemm_bf16.hpp"
#include "mlp/detail/relu_mask.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

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

namespace detail {

// Draws a weight matrix (and, for Init::TorchDefault, the bias) as the scheme says; biases of the
// other schemes start at zero. Conv2d uses it with fan_in = in_channels * kernel area.
template <class S>
void init_weights(Matrix<S>& weight, Matrix<S>* bias, Rng& rng, Init init, double fan_in, double fan_out) {
  if (bias != nullptr) bias->setZero();
  auto fill_uniform = [&rng](Matrix<S>& m, double bound) {
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform<S>(S(-bound), S(bound));
  };
  auto fill_normal = [&rng](Matrix<S>& m, double stddev) {
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.normal<S>(S(0), S(stddev));
  };
  switch (init) {
    case Init::KaimingUniform: fill_uniform(weight, std::sqrt(6.0 / fan_in)); break;
    case Init::KaimingNormal: fill_normal(weight, std::sqrt(2.0 / fan_in)); break;
    case Init::XavierUniform: fill_uniform(weight, std::sqrt(6.0 / (fan_in + fan_out))); break;
    case Init::XavierNormal: fill_normal(weight, std::sqrt(2.0 / (fan_in + fan_out))); break;
    case Init::TorchDefault:
      fill_uniform(weight, 1.0 / std::sqrt(fan_in));
      if (bias != nullptr) fill_uniform(*bias, 1.0 / std::sqrt(fan_in));
      break;
  }
}

}  // namespace detail

// y = W x + b 1^T.  Shapes: W out x in, b out, x in x B, y out x B. Takes a feature vector of
// in_features values per sample (after a convolution, put a Flatten before it).
template <class S = float>
class Linear final : public Layer<S> {
 public:
  Linear(Index in_features, Index out_features, Rng& rng, Init init = Init::KaimingUniform,
         bool bias = true)
      : has_bias_(bias) {
    detail::require(in_features > 0 && out_features > 0,
                    "Linear needs positive sizes, but got in_features=", in_features,
                    " and out_features=", out_features);
    weight_.resize(out_features, in_features);
    bias_.setZero(out_features, 1);
    initialize(rng, init);
    if (!has_bias_) bias_.setZero();
    dweight_.setZero(out_features, in_features);
    dbias_.setZero(out_features, 1);
  }

  std::string_view kind() const override { return "Linear"; }
  LayerConfig config() const override {
    LayerConfig c;
    c.set("in_features", in_features()).set("out_features", out_features()).set("bias", has_bias_);
    return c;
  }
  // The weights of a rebuilt layer are placeholders until a state dict is loaded into it.
  static std::unique_ptr<Linear> from_config(const LayerConfig& c) {
    Rng rng(0);
    return std::make_unique<Linear>(c.integer("in_features", 1, kMaxLayerSize),
                                    c.integer("out_features", 1, kMaxLayerSize), rng,
                                    Init::KaimingUniform, c.boolean("bias"));
  }
  static std::vector<StateShape> state_shapes(const LayerConfig& c) {
    const Index in = c.integer("in_features", 1, kMaxLayerSize), out = c.integer("out_features", 1, kMaxLayerSize);
    std::vector<StateShape> shapes{{"weight", out, in}};
    if (c.boolean("bias")) shapes.push_back({"bias", out, 1});
    return shapes;
  }
  std::string describe() const override {
    return detail::concat("Linear(", in_features(), ", ", out_features(), has_bias_ ? "" : ", bias=false", ")");
  }
  std::optional<Shape> natural_input_shape() const override { return Shape::flat(in_features()); }
  void set_matmul_precision(MatmulPrecision precision) override {
    detail::require(precision == MatmulPrecision::Float32 || std::is_same_v<S, float>,
                    "bf16 matrix products are for float models (double models are for gradient checks)");
    bf16_ = precision == MatmulPrecision::BFloat16;
  }

  std::vector<TensorRef<S>> parameters() override {
    std::vector<TensorRef<S>> list{tensor_ref<S>("weight", weight_, &dweight_, true)};
    if (has_bias_) list.push_back(tensor_ref<S>("bias", bias_, &dbias_, false));
    return list;
  }

  Index in_features() const { return weight_.cols(); }
  Index out_features() const { return weight_.rows(); }
  bool has_bias() const { return has_bias_; }
  Matrix<S>& weight() { return weight_; }
  Matrix<S>& bias() { return bias_; }
  const Matrix<S>& weight() const { return weight_; }
  const Matrix<S>& bias() const { return bias_; }
  const Matrix<S>& weight_grad() const { return dweight_; }
  const Matrix<S>& bias_grad() const { return dbias_; }

 protected:
  Shape output_shape_for(const Shape& input) const override {
    detail::require(input.is_flat() && input.size() == in_features(), describe(), " needs ",
                    in_features(), " features per sample, but its input is ", input.described(),
                    input.is_flat() ? "" : " (put a Flatten before it)");
    return Shape::flat(out_features());
  }

  // A Sequential's layer reads its input again in backward instead of copying it.
  bool can_read_kept_input() const override { return true; }
  // A following ReLU is applied to each element of y as the product finishes it (Sequential's
  // fusion, layers/layer.hpp), which saves the ReLU's pass forward; backward starts with the ReLU's
  // mask of dy, unless the layer after the ReLU already masked it.
  bool can_fuse_relu() const override { return true; }
  // After a fused ReLU, dx = W^T dy is masked by (x > 0) as the product finishes each element,
  // which saves the ReLU's mask pass backward.
  bool can_mask_relu_gradient() const override { return true; }

  // y = W x + b. In Train mode x is kept for backward (copied, unless the Sequential keeps it).
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode mode) override {
    // Each sum starts from its bias in the product's registers and gets the fused ReLU there: no
    // pass over y for either, and the bits of y = b, then y += W x, then y = y.max(0).
    detail::resize_buffer(y_, out_features(), x.cols());
    product(out_features(), x.cols(), in_features(), weight_.data(), out_features(), false, x.data(), x.outerStride(),
            false, y_.data(), bias_.data(), this->relu_fused() ? detail::GemmFinish<S>::relu() : detail::GemmFinish<S>{});
    if (mode == Mode::Train && this->kept_input() == nullptr) {
      detail::assign_buffer(x_, x);
    } else if (mode == Mode::Train) {
      x_.resize(0, 0);  // a copy from a use on its own is not needed any more
    }
    return y_;
  }

  // dW = dy x^T, db = dy 1 (sum over the batch), dx = W^T dy.
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy_out) override {
    const bool mask = this->relu_fused() && !this->relu_gradient_masked();
    // dL/d(our output) = dy where the fused ReLU let it through.
    if (mask) detail::relu_mask_batch(y_, dy_out, masked_dy_);
    const Eigen::Ref<const Matrix<S>> dy = mask ? Eigen::Ref<const Matrix<S>>(masked_dy_) : dy_out;
    const Matrix<S>& x = this->kept_input() != nullptr ? *this->kept_input() : x_;
    product(out_features(), in_features(), dy.cols(), dy.data(), dy.outerStride(), false, x.data(), in_features(),
            true, dweight_.data());
    if (has_bias_) detail::sum_columns(dy, dbias_);
    if (this->input_grad_) {
      // After a fused ReLU (x is its output), dx masked by (x > 0) as the ReLU's backward would.
      detail::resize_buffer(dx_, in_features(), dy.cols());
      product(in_features(), dy.cols(), out_features(), weight_.data(), out_features(), true, dy.data(),
              dy.outerStride(), false, dx_.data(), nullptr,
              this->relu_masking() ? detail::GemmFinish<S>::relu_mask(x.data(), x.outerStride())
                                   : detail::GemmFinish<S>{});
    } else {
      dx_.resize(0, 0);
    }
    return dx_;
  }

 private:
  // C (m x n, column stride m) = r 1^T + op(A) op(B) (r: m rows, or +0 without), each element then
  // finished (a ReLU, or a ReLU's mask), in the layer's precision or with bf16 inputs and fp32
  // accumulation; the same bits at any thread count (detail/gemm.hpp).
  void product(Index m, Index n, Index k, const S* a, Index lda, bool ta, const S* b, Index ldb, bool tb, S* c,
               const S* rows = nullptr, const detail::GemmFinish<S>& finish = {}) {
    if constexpr (std::is_same_v<S, float>) {
      if (bf16_) return detail::gemm_bf16_finished(m, n, k, a, lda, ta, b, ldb, tb, rows, c, m, finish, workspace_);
    }
    detail::gemm_finished(m, n, k, a, lda, ta, b, ldb, tb, rows, c, m, finish, buffers_);
  }

  void initialize(Rng& rng, Init init) {
    const double fan_in = static_cast<double>(in_features());
    const double fan_out = static_cast<double>(out_features());
    detail::init_weights(weight_, has_bias_ ? &bias_ : nullptr, rng, init, fan_in, fan_out);
  }

  bool has_bias_;
  bool bf16_ = false;                // products with bfloat16 inputs (float layers only)
  detail::GemmWorkspace workspace_;  // their packing buffers
  detail::GemmBuffers<S> buffers_;   // the packing buffers of the products in S
  Matrix<S> weight_, bias_;    // out x in, out x 1 (zero, and not a parameter, without bias)
  Matrix<S> dweight_, dbias_;  // same shapes
  Matrix<S> x_;                // in x B, the input of the last Train forward (unless kept)
  Matrix<S> y_;                // out x B
  Matrix<S> dx_;               // in x B
  Matrix<S> masked_dy_;        // out x B, with a fused ReLU only
};

}  // namespace mlp
