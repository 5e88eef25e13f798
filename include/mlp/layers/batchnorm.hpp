// Batch normalization (Ioffe & Szegedy, 2015) with PyTorch's conventions, shared by BatchNorm1d
// (a feature vector: one statistic per feature, over the batch) and BatchNorm2d (an image: one
// statistic per channel, over the batch and the channel's H x W pixels):
//   momentum 0.1 means running = 0.9 running + 0.1 batch; momentum "none" is the cumulative
//   average (factor 1 / num_batches_tracked); the batch is normalized with the BIASED variance and
//   the running variance is updated with the UNBIASED one; weight (gamma) starts at 1, bias (beta)
//   at 0, running_mean at 0, running_var at 1, num_batches_tracked at 0.
// A feature vector's statistics are row sums over the batch (contiguous column additions); an
// image's are formed a few channels at a time over the channels' contiguous blocks of pixels
// (detail/channel_planes.hpp), groups of channels spread over the library's threads
// (thread_count()), each channel computed the same way whatever the group and the thread count.
// The derivation of backward is in docs/derivations.md.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/detail/channel_planes.hpp"
#include "mlp/detail/column_sums.hpp"
#include "mlp/detail/exact_sqrt.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/prefetch.hpp"
#include "mlp/detail/relu_mask.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mlp {

namespace detail {

template <class S>
class BatchNorm : public Layer<S> {
 public:
  Index num_features() const { return gamma_.rows(); }
  double eps() const { return eps_given_; }
  std::optional<double> momentum() const { return momentum_given_; }

  std::vector<TensorRef<S>> parameters() override {
    return {tensor_ref<S>("weight", gamma_, &dgamma_, false), tensor_ref<S>("bias", beta_, &dbeta_, false)};
  }
  std::vector<TensorRef<S>> buffers() override {
    return {tensor_ref<S>("running_mean", running_mean_, nullptr, false),
            tensor_ref<S>("running_var", running_var_, nullptr, false),
            tensor_ref<S>("num_batches_tracked", batches_tracked_, nullptr, false)};
  }
  LayerConfig config() const override {
    LayerConfig c;
    c.set("num_features", num_features()).set("eps", eps_given_);
    if (momentum_given_) {
      c.set("momentum", *momentum_given_);
    } else {
      c.set("momentum", "none");
    }
    return c;
  }
  static std::vector<StateShape> state_shapes(const LayerConfig& c) {
    const Index f = c.integer("num_features", 1, kMaxLayerSize);
    return {{"weight", f, 1}, {"bias", f, 1}, {"running_mean", f, 1}, {"running_var", f, 1},
            {"num_batches_tracked", 1, 1}};
  }
  std::string describe() const override {
    return detail::concat(this->kind(), "(", num_features(), ")");
  }

  Matrix<S>& weight() { return gamma_; }
  Matrix<S>& bias() { return beta_; }
  const Matrix<S>& weight() const { return gamma_; }
  const Matrix<S>& bias() const { return beta_; }
  const Matrix<S>& weight_grad() const { return dgamma_; }
  const Matrix<S>& bias_grad() const { return dbeta_; }
  Matrix<S>& running_mean() { return running_mean_; }
  Matrix<S>& running_var() { return running_var_; }
  const Matrix<S>& running_mean() const { return running_mean_; }
  const Matrix<S>& running_var() const { return running_var_; }
  // Train forwards so far (PyTorch keeps an int64; stored as a scalar tensor, exact to 2^24 in float).
  double num_batches_tracked() const { return static_cast<double>(batches_tracked_(0, 0)); }

 public:
  // The eps it takes (and a model file may hold): the normal numbers of S.
  static constexpr double kEpsMin = static_cast<double>(std::numeric_limits<S>::min());
  static constexpr double kEpsMax = static_cast<double>(std::numeric_limits<S>::max());

 protected:
  BatchNorm(Index features, double eps, std::optional<double> momentum)
      : eps_(static_cast<S>(eps)), eps_given_(eps), momentum_given_(momentum) {
    detail::require(features > 0, "BatchNorm needs a positive number of features, but got ", features);
    // (as a float, eps 1e-50 was 0 and a constant channel gave NaN, 1e300 was infinite and every
    // output 0; a subnormal one was 0 in a step, under the Trainer's flush_denormals)
    detail::require(eps >= kEpsMin && eps <= kEpsMax,
                    "BatchNorm eps has to be a positive normal number of the layer's scalar type (",
                    std::numeric_limits<S>::min(), " to ", std::numeric_limits<S>::max(), " in ",
                    std::is_same_v<S, float> ? "float" : "double", "), but got ", eps);
    detail::require(!momentum || (*momentum >= 0.0 && *momentum <= 1.0),
                    "BatchNorm momentum has to be in [0, 1] (or none), but got ", momentum.value_or(0.0));
    gamma_.setOnes(features, 1);
    beta_.setZero(features, 1);
    dgamma_.setZero(features, 1);
    dbeta_.setZero(features, 1);
    running_mean_.setZero(features, 1);
    running_var_.setOnes(features, 1);
    batches_tracked_.setZero(1, 1);
    for (Matrix<S>* v : {&mean_, &var_, &inv_std_, &scale_, &shift_}) v->setZero(features, 1);
  }

  static std::optional<double> momentum_from(const LayerConfig& c) {
    if (c.text("momentum") == "none") return std::nullopt;
    return c.real("momentum", 0.0, 1.0);
  }

  void on_bind() override { pixels_ = this->input_shape().pixels(); }

  // A following ReLU is applied to y in the same pass (Sequential's fusion, layers/layer.hpp), which
  // saves the ReLU's pass over the batch forward; backward starts with the ReLU's mask of dy.
  bool can_fuse_relu() const override { return true; }

  // An image's xhat is not written when the Sequential keeps the input for backward: backward
  // computes it again from x, exactly as forward did, which saves writing (and reading for the
  // write) a matrix the size of the batch.
  bool can_read_kept_input() const override { return pixels_ > 1; }

  // An image's output is computed a plane (channel of a sample) at a time, so it can be handed to
  // a pool after the fused ReLU instead of being written (Layer::can_feed_planes).
  bool can_feed_planes() const override { return pixels_ > 1; }

  // An image's dL/dx is, once backward has summed dy and dy * xhat, each sample's own computation,
  // so a Conv2d before that reads dL/dy a sample at a time can take it sample by sample instead
  // of it being written (Layer::can_give_samples).
  bool can_give_samples() const override { return pixels_ > 1; }
  void give_sample(Index s, S* column) const override {
    MLP_ASSERT(given_.grad != nullptr, "give_sample without a backward that gave samples");
    input_grad_planes(given_, s, 0, num_features(), column);
  }

  // Train: mu, var = mean and biased variance of each channel over its N = B x pixels values;
  //        xhat = (x - mu) / sqrt(var + eps);  y = gamma * xhat + beta;
  //        running_mean += m (mu - running_mean);  running_var += m (var * N/(N-1) - running_var).
  // Eval:  y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta; nothing is updated.
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode mode) override {
    detail::resize_buffer(y_, x.rows(), x.cols());  // not written when planes are handed on: its pages are never touched
    if (mode == Mode::Eval) {
      scale_.array() = gamma_.array() / detail::exact_sqrt(running_var_.array() + eps_);
      shift_.array() = beta_.array() - running_mean_.array() * scale_.array();
      if (pixels_ > 1) {
        for_each_channel_group([&](Index c0, Index c1) { affine_planes(x, c0, c1); });
      } else {
        write(y_.array(), (x.array().colwise() * scale_.col(0).array()).colwise() + shift_.col(0).array());
      }
      return y_;
    }
    const Index count = x.cols() * pixels_;
    if (count <= 1) {  // the message only on failure: describe() allocates, and this runs every step
      detail::fail<InvalidArgument>(this->describe(), " in Train mode needs more than 1 value per channel, "
                                    "but got a batch of ", x.cols(), " sample(s) of ",
                                    this->input_shape().described(),
                                    " (use a larger batch, or drop a last batch of 1 with drop_last)");
    }
    if (pixels_ > 1) {
      if (this->kept_input() == nullptr) {
        detail::resize_buffer(xhat_, x.rows(), x.cols());
      } else {
        xhat_.resize(0, 0);  // from a use on its own
      }
      detail::resize_buffer(block_sums_, x.cols(), num_features());
      for_each_channel_group([&](Index c0, Index c1) { normalize_planes(x, c0, c1, count); });
    } else {
      detail::resize_buffer(xhat_, x.rows(), x.cols());
      normalize_rows(x, count);
    }
    batches_tracked_(0, 0) += S(1);
    const S m = momentum_given_ ? static_cast<S>(*momentum_given_) : S(1) / batches_tracked_(0, 0);
    const S unbias = S(count) / S(count - 1);
    running_mean_ += m * (mean_ - running_mean_);
    running_var_ += m * (unbias * var_ - running_var_);
    return y_;
  }

  // dbeta = sum dy;  dgamma = sum dy * xhat;  (sums over each channel's N values)
  // dx = gamma * inv_std / N * (N dy - dbeta - xhat * dgamma)   (per channel).
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    const Index count = dy.cols() * pixels_;
    if (this->input_grad_) {
      detail::resize_buffer(dx_, dy.rows(), dy.cols());
    } else {
      dx_.resize(0, 0);
    }
    const bool mask = this->relu_fused() && !this->relu_gradient_masked();
    if (mask && this->feeds_planes()) write_output();  // y_, which the mask reads, was not written
    if (mask) {
      // dL/d(our output) = dy where the ReLU let it through, in one pass over the whole batch (long
      // contiguous runs stream faster than a channel's short blocks) into a matrix of dy's shape, so
      // that the sums below read it exactly as they would read the ReLU's own dx.
      detail::relu_mask_batch(y_, dy, masked_dy_);
    }
    const Eigen::Ref<const Matrix<S>> grad = mask ? Eigen::Ref<const Matrix<S>>(masked_dy_) : dy;
    if (pixels_ > 1) {
      // xhat = (source - shift) * scale: x again, or the stored xhat as (xhat - 0) * 1, which is
      // xhat exactly, so that both give the same bits.
      const Matrix<S>* x = this->kept_input();
      detail::resize_buffer(block_sums_, dy.cols(), num_features());
      detail::resize_buffer(block_dots_, dy.cols(), num_features());
      const InputGradSource source{grad.data(), grad.outerStride(), x != nullptr ? x : &xhat_, x != nullptr,
                                   S(count)};
      const bool write = this->input_grad_ && !this->giving_samples();
      for_each_channel_group([&](Index c0, Index c1) { backward_planes(source, dy.cols(), c0, c1, write); });
      given_ = this->giving_samples() && this->input_grad_ ? source : InputGradSource{};
    } else {
      backward_rows(grad, count);
    }
    return dx_;
  }

 private:
  // fn(c0, c1) for groups of channels [c0, c1) of an image (detail::channel_group), the groups
  // spread over the library's threads.
  // With planes handed on, each group also gets a scratch column of its own (see output_block).
  template <class Fn>
  void for_each_channel_group(Fn&& fn) {
    const Index group = detail::channel_group(num_features(), pixels_, thread_count());
    if (this->feeds_planes()) {
      detail::resize_buffer(plane_scratch_, kScratchAlign * (group * pixels_ / kScratchAlign + 2),
                            (num_features() + group - 1) / group);
    }
    scratch_group_ = group;
    detail::for_each_chunk(num_features(), group, std::forward<Fn>(fn));
  }

  // A feature vector (pixels 1): the statistics are row sums over the batch, contiguous columns.
  void normalize_rows(const Eigen::Ref<const Matrix<S>>& x, Index count) {
    const S n = S(count);
    detail::sum_columns(x, mean_);
    mean_ /= n;
    xhat_.array() = x.array().colwise() - mean_.col(0).array();
    detail::sum_column_products(xhat_, xhat_, var_);
    var_ /= n;
    inv_std_.array() = detail::exact_sqrt(var_.array() + eps_).inverse();
    xhat_.array().colwise() *= inv_std_.col(0).array();
    write(y_.array(), (xhat_.array().colwise() * gamma_.col(0).array()).colwise() + beta_.col(0).array());
  }
  void backward_rows(const Eigen::Ref<const Matrix<S>>& dy, Index count) {
    const S n = S(count);
    detail::sum_columns(dy, dbeta_);
    detail::sum_column_products(dy, xhat_, dgamma_);
    if (!this->input_grad_) return;
    scale_.array() = gamma_.array() * inv_std_.array() / n;
    dx_.array() = ((n * dy.array()).colwise() - dbeta_.col(0).array()) -
                  xhat_.array().colwise() * dgamma_.col(0).array();
    dx_.array().colwise() *= scale_.col(0).array();
  }

  // An image, channels [c0, c1): each channel's mean, then its variance, from its B blocks of
  // pixels (a block sum per sample, added in double in sample order), then xhat (unless the input
  // is kept) and y block by block (the group's values are still in cache from the passes before).
  void normalize_planes(const Eigen::Ref<const Matrix<S>>& x, Index c0, Index c1, Index count) {
    const double n = static_cast<double>(count);
    const Index B = x.cols();
    detail::for_each_block(x, c0, c1, pixels_, [&](Index s, Index c, const auto& block) {
      if (c == c0) prefetch_group_run(x.data(), x.outerStride(), s + kSamplesAhead, B, c0, c1);
      block_sums_(s, c) = block.sum();
    });
    for (Index c = c0; c < c1; ++c) {
      mean_(c, 0) = static_cast<S>(detail::sum_in_order(block_sums_.col(c).data(), B) / n);
    }
    detail::for_each_block(x, c0, c1, pixels_, [&](Index s, Index c, const auto& block) {
      block_sums_(s, c) = (block.array() - mean_(c, 0)).square().sum();
    });
    for (Index c = c0; c < c1; ++c) {
      var_(c, 0) = static_cast<S>(detail::sum_in_order(block_sums_.col(c).data(), B) / n);
      inv_std_(c, 0) = S(1) / std::sqrt(var_(c, 0) + eps_);
    }
    const bool store = this->kept_input() == nullptr;
    detail::for_each_block(x, c0, c1, pixels_, [&](Index s, Index c, const auto& block) {
      const auto xhat = (block.array() - mean_(c, 0)) * inv_std_(c, 0);
      if (store) xhat_.col(s).segment(c * pixels_, pixels_).array() = xhat;
      output_block(s, c, c0, c1, [&](auto&& out) { write(out.array(), xhat * gamma_(c, 0) + beta_(c, 0)); });
    });
  }
  void affine_planes(const Eigen::Ref<const Matrix<S>>& x, Index c0, Index c1) {
    detail::for_each_block(x, c0, c1, pixels_, [&](Index s, Index c, const auto& block) {
      output_block(s, c, c0, c1, [&](auto&& out) { write(out.array(), block.array() * scale_(c, 0) + shift_(c, 0)); });
    });
  }
  // fn(out) with out the output block of channel c of sample s, in the group [c0, c1): y_'s, or,
  // when planes are handed on, the group's scratch, whose planes of sample s are handed to the
  // taker after the last one. The scratch starts where y_'s block of (s, c0) would modulo
  // kScratchAlign values: Eigen's loops go value by value up to an aligned address, then in
  // vectors, so each value takes the same path as in y_ (where a compiler contracts a multiply-add
  // in one path and not the other, the two paths round differently).
  template <class Fn>
  void output_block(Index s, Index c, Index c0, Index c1, Fn&& fn) {
    if (!this->feeds_planes()) {
      fn(y_.col(s).segment(c * pixels_, pixels_));
      return;
    }
    auto out = scratch_planes(s, c, c0, 1);
    fn(out);
    if (c + 1 == c1) this->hand_planes(s, c0, c1 - c0, scratch_planes(s, c0, c0, c1 - c0).data());
  }
  // y_ as the Train forward that handed its planes on would have written it, from the same
  // values: its input again (or xhat_, stored when the input was not kept), its statistics.
  void write_output() {
    const Matrix<S>* x = this->kept_input();
    for_each_channel_group([&](Index c0, Index c1) {
      for (Index s = 0; s < y_.cols(); ++s) {
        for (Index c = c0; c < c1; ++c) {
          auto out = y_.col(s).segment(c * pixels_, pixels_).array();
          if (x != nullptr) {
            write(out, (x->col(s).segment(c * pixels_, pixels_).array() - mean_(c, 0)) * inv_std_(c, 0) * gamma_(c, 0) +
                           beta_(c, 0));
          } else {
            write(out, xhat_.col(s).segment(c * pixels_, pixels_).array() * gamma_(c, 0) + beta_(c, 0));
          }
        }
      }
    });
  }
  // Planes [c, c + count) of sample s in the scratch of the group starting at c0.
  auto scratch_planes(Index s, Index c, Index c0, Index count) {
    MLP_ASSERT(c0 % scratch_group_ == 0 && c + count - c0 <= scratch_group_, "a group's scratch");
    const Index offset = (s * num_features() * pixels_ + c0 * pixels_) % kScratchAlign + (c - c0) * pixels_;
    return plane_scratch_.col(c0 / scratch_group_).segment(offset, count * pixels_);
  }
  // out = value, or with a fused ReLU max(value, 0), as ReLU computes it from a stored value.
  template <class Out, class Value>
  void write(Out&& out, const Value& value) const {
    if (this->relu_fused()) {
      out = value.max(S(0));
    } else {
      out = value;
    }
  }
  // What an image's dL/dx is computed from: dL/dy (dy as masked, with its column stride), and
  // xhat = (source - shift) * scale: source x with the channel's mean and inv_std, or the stored
  // xhat with 0 and 1 (see backward_impl); N values per channel.
  struct InputGradSource {
    const S* grad = nullptr;
    Index grad_stride = 0;
    const Matrix<S>* source = nullptr;
    bool from_x = false;
    S n = S(0);

    auto dy(Index s, Index c, Index pixels) const {
      return Eigen::Map<const Vector<S>>(grad + s * grad_stride + c * pixels, pixels);
    }
  };
  auto xhat(const InputGradSource& in, Index s, Index c) const {
    return (in.source->col(s).segment(c * pixels_, pixels_).array() - (in.from_x ? mean_(c, 0) : S(0))) *
           (in.from_x ? inv_std_(c, 0) : S(1));
  }
  // Channels [c0, c1). The sums of dy and of dy * xhat per block in one pass, each added in double
  // in sample order, then (write) dx block by block.
  void backward_planes(const InputGradSource& in, Index B, Index c0, Index c1, bool write) {
    for (Index s = 0; s < B; ++s) {
      prefetch_group_run(in.grad, in.grad_stride, s + kSamplesAhead, B, c0, c1);
      prefetch_group_run(in.source->data(), in.source->outerStride(), s + kSamplesAhead, B, c0, c1);
      for (Index c = c0; c < c1; ++c) {
        const auto block = in.dy(s, c, pixels_);
        block_sums_(s, c) = block.sum();
        block_dots_(s, c) = (block.array() * xhat(in, s, c)).sum();
      }
    }
    for (Index c = c0; c < c1; ++c) {
      dbeta_(c, 0) = static_cast<S>(detail::sum_in_order(block_sums_.col(c).data(), B));
      dgamma_(c, 0) = static_cast<S>(detail::sum_in_order(block_dots_.col(c).data(), B));
    }
    if (!write) return;
    for (Index s = 0; s < B; ++s) input_grad_planes(in, s, c0, c1, dx_.col(s).data());
  }
  // The first pass over a group reads one run of (c1 - c0) planes per sample from memory, a few
  // KiB, then jumps a column on (100 KB in the study's first BatchNorm2d); the hardware prefetchers
  // start again on every run. Sample s's run, asked for two samples before it is read, is in cache
  // when the pass gets there: docs/performance.md, "The twenty-third round". A hint only: the same
  // bits.
  void prefetch_group_run(const S* matrix, Index stride, Index s, Index B, Index c0, Index c1) const {
    if (s >= B) return;
    detail::prefetch_lines<false>(reinterpret_cast<const char*>(matrix + s * stride + c0 * pixels_),
                                  (c1 - c0) * pixels_ * static_cast<Index>(sizeof(S)));
  }
  static constexpr Index kSamplesAhead = 2;

  // dx = gamma * inv_std / N * (N dy - dbeta - xhat * dgamma) for channels [c0, c1) of sample s
  // into `column` (the sample's column: channel c at c * pixels). The same code whether it writes
  // dx_ or a column a Conv2d pulls (give_sample), so that both give the same bits where the
  // columns start at the same offset from a 64-byte boundary (vectorized and scalar paths may
  // round differently where a compiler contracts a multiply-add in one only).
  void input_grad_planes(const InputGradSource& in, Index s, Index c0, Index c1, S* column) const {
    for (Index c = c0; c < c1; ++c) {
      const S k = gamma_(c, 0) * inv_std_(c, 0) / in.n;
      Eigen::Map<Vector<S>>(column + c * pixels_, pixels_).array() =
          k * (in.n * in.dy(s, c, pixels_).array() - dbeta_(c, 0) - xhat(in, s, c) * dgamma_(c, 0));
    }
  }

  S eps_;
  double eps_given_;                        // as configured (saved exactly)
  std::optional<double> momentum_given_;    // none: cumulative average
  Index pixels_ = 1;                        // values per channel and sample (H x W; 1 for 1d)
  Matrix<S> gamma_, beta_, dgamma_, dbeta_;       // C x 1
  Matrix<S> running_mean_, running_var_;          // C x 1
  Matrix<S> batches_tracked_;                     // 1 x 1
  Matrix<S> mean_, var_, inv_std_, scale_, shift_;  // C x 1 scratch
  Matrix<S> xhat_, y_, dx_;                       // C * pixels x B (xhat_ unused for an image whose input is kept)
  Matrix<S> masked_dy_;                           // C * pixels x B, with a fused ReLU only
  InputGradSource given_;                         // of the last backward that gave samples (else none)
  Matrix<S> block_sums_, block_dots_;             // B x C: an image's sums per sample and channel
  // Planes handed on: a group's planes of one sample start at any of kScratchAlign offsets (64
  // bytes of floats; a multiple of every packet's alignment).
  static constexpr Index kScratchAlign = 16;
  Matrix<S> plane_scratch_;  // a column per channel group: its planes of one sample
  Index scratch_group_ = 1;  // channels per group
};

}  // namespace detail

// Normalizes each of `num_features` features over the batch: input a feature vector.
template <class S = float>
class BatchNorm1d final : public detail::BatchNorm<S> {
 public:
  explicit BatchNorm1d(Index num_features, double eps = 1e-5, std::optional<double> momentum = 0.1)
      : detail::BatchNorm<S>(num_features, eps, momentum) {}
  std::string_view kind() const override { return "BatchNorm1d"; }
  static std::unique_ptr<BatchNorm1d> from_config(const LayerConfig& c) {
    using Base = detail::BatchNorm<S>;
    return std::make_unique<BatchNorm1d>(c.integer("num_features", 1, kMaxLayerSize),
                                         c.real("eps", Base::kEpsMin, Base::kEpsMax), Base::momentum_from(c));
  }
  std::optional<Shape> natural_input_shape() const override { return Shape::flat(this->num_features()); }

 protected:
  Shape output_shape_for(const Shape& input) const override {
    detail::require(input.is_flat() && input.channels == this->num_features(), this->describe(),
                    " needs ", this->num_features(), " features per sample, but its input is ",
                    input.described(), input.is_flat() ? "" : " (use BatchNorm2d for images)");
    return input;
  }
};

// Normalizes each of `num_features` channels of an image over the batch and the channel's pixels.
template <class S = float>
class BatchNorm2d final : public detail::BatchNorm<S> {
 public:
  explicit BatchNorm2d(Index num_features, double eps = 1e-5, std::optional<double> momentum = 0.1)
      : detail::BatchNorm<S>(num_features, eps, momentum) {}
  std::string_view kind() const override { return "BatchNorm2d"; }
  static std::unique_ptr<BatchNorm2d> from_config(const LayerConfig& c) {
    using Base = detail::BatchNorm<S>;
    return std::make_unique<BatchNorm2d>(c.integer("num_features", 1, kMaxLayerSize),
                                         c.real("eps", Base::kEpsMin, Base::kEpsMax), Base::momentum_from(c));
  }

 protected:
  Shape output_shape_for(const Shape& input) const override {
    detail::require(input.channels == this->num_features(), this->describe(), " needs ",
                    this->num_features(), " channels, but its input is ", input.described());
    return input;
  }
};

}  // namespace mlp
