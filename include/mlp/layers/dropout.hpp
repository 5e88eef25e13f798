// Inverted dropout (Srivastava et al., 2014): in Train mode each unit is kept with probability
// 1 - p and scaled by 1 / (1 - p), so the expected activation is unchanged and Eval mode is the
// identity.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <cstdint>
#include <memory>

namespace mlp {

template <class S = float>
class Dropout final : public Layer<S> {
 public:
  explicit Dropout(double p, std::uint64_t seed = 0) : p_(p), rng_(seed) {
    detail::require(p >= 0.0 && p < 1.0, "dropout probability has to be in [0, 1), but got ", p);
    // Keep a unit when a uniform 32-bit draw is below (1 - p) 2^32: an exact integer test.
    keep_threshold_ = static_cast<std::uint64_t>(std::ldexp(1.0 - p, 32));
    scale_ = static_cast<S>(1.0 / (1.0 - p));
  }

  std::string_view kind() const override { return "Dropout"; }
  LayerConfig config() const override {
    LayerConfig c;
    c.set("p", p_);
    return c;
  }
  // The generator's state is not configuration: a training checkpoint restores it.
  static std::unique_ptr<Dropout> from_config(const LayerConfig& c) {
    return std::make_unique<Dropout>(c.real("p", 0.0, std::nextafter(1.0, 0.0)));  // (the constructor's [0, 1))
  }
  std::string describe() const override { return detail::concat("Dropout(p=", p_, ")"); }
  bool has_random_state() const override { return true; }
  std::uint64_t random_state() const override { return rng_.state(); }
  void set_random_state(std::uint64_t state) override { rng_.set_state(state); }

  double p() const { return p_; }
  const Matrix<S>& mask() const { return mask_; }

 protected:
  bool passes_through(Mode mode) const override { return mode == Mode::Eval || p_ == 0.0; }

  // Train: y = x * mask, mask_ij = [u_ij < 1 - p] / (1 - p).  Eval: y = x.
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode mode) override {
    detail::resize_buffer(y_, x.rows(), x.cols());
    if (mode == Mode::Eval || p_ == 0.0) {
      detail::assign_buffer(y_, x);
      mask_.resize(0, 0);
      return y_;
    }
    detail::resize_buffer(mask_, x.rows(), x.cols());
    draw_mask();
    apply_mask(x, y_);
    return y_;
  }

  // dx = dy * mask.
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    detail::resize_buffer(dx_, dy.rows(), dy.cols());
    if (p_ == 0.0) {
      detail::assign_buffer(dx_, dy);
    } else {
      apply_mask(dy, dx_);
    }
    return dx_;
  }

 private:
  // out = in * mask_, element-wise, in ranges of columns on the library's threads (the same bits at
  // any thread count: each column is computed as in one pass over the whole matrix).
  void apply_mask(const Eigen::Ref<const Matrix<S>>& in, Matrix<S>& out) const {
    detail::for_each_column_range(in.rows(), in.cols(), [&](Index begin, Index end) {
      const Index n = end - begin;
      out.middleCols(begin, n).array() = in.middleCols(begin, n).array() * mask_.middleCols(begin, n).array();
    });
  }

  // Two 32-bit draws per 64-bit output of the generator. SplitMix64's k-th output is a pure
  // function of state + k * gamma, so the loop has no dependency from one element to the next and
  // vectorizes and ranges of k can go to different threads; it yields exactly the numbers of k calls
  // to rng_.next_u64().
  void draw_mask() {
    S* mask = mask_.data();
    const Index n = mask_.size();
    const Index pairs = (n + 1) / 2;
    const std::uint64_t base = rng_.state();
    const std::uint64_t threshold = keep_threshold_;
    const S scale = scale_;
    detail::for_each_chunk(n / 2, Index{1} << 13, [&](Index begin, Index end) {
      draw_pairs(mask, base, threshold, scale, begin, end);
    });
    if (n % 2 != 0) {
      const std::uint64_t bits = detail::mix64(base + static_cast<std::uint64_t>(pairs) * kSplitMixGamma);
      mask[n - 1] = (bits & 0xffffffffULL) < threshold ? scale : S(0);
    }
    rng_.set_state(base + static_cast<std::uint64_t>(pairs) * kSplitMixGamma);
  }

  // Pairs [begin, end) of the mask. A function of its own, with its arguments in registers: written
  // inside the lambda the loop was vectorized in some builds and not in others (8x slower).
  static void draw_pairs(S* __restrict mask, std::uint64_t base, std::uint64_t threshold, S scale, Index begin,
                         Index end) {
    for (Index k = begin; k < end; ++k) {
      const std::uint64_t bits = detail::mix64(base + static_cast<std::uint64_t>(k + 1) * kSplitMixGamma);
      mask[2 * k] = (bits & 0xffffffffULL) < threshold ? scale : S(0);
      mask[2 * k + 1] = (bits >> 32) < threshold ? scale : S(0);
    }
  }

  double p_;
  Rng rng_;
  std::uint64_t keep_threshold_ = 0;
  S scale_ = S(1);
  Matrix<S> mask_, y_, dx_;  // F x B
};

}  // namespace mlp
