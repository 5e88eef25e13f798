// 2-D pooling, PyTorch's nn.MaxPool2d and nn.AvgPool2d (floor mode, dilation 1) in column layout.
// Each channel of each sample is pooled on its own: window (kh, kw) moved by (sh, sw) over the
// image padded by (ph, pw) on each side; stride defaults to the kernel size, padding to 0, and
// padding may be at most half the kernel (as in PyTorch), so every window holds an image pixel.
//   MaxPool2d: y = max of the window, padding counting as -infinity; the position of the max (the
//              first one in row-major order on ties, NaN wins) is kept for backward.
//   AvgPool2d: y = sum of the window / (kh kw), padding counting as zeros (count_include_pad=True).
// Samples are split into chunks on the library's threads (thread_count()); each output depends on its own sample only, so
// results are the same whatever the thread count. Derivations in docs/derivations.md.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/detail/max_pool_avx512.hpp"
#include "mlp/detail/max_pool_kernels.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/relu_mask.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/detail/window2d.hpp"
#include "mlp/detail/worker_chunks.hpp"
#include "mlp/layers/layer.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mlp {

namespace detail {

// What both pooling kinds share: the window, its configuration, shapes and messages.
template <class S>
class Pool2d : public Layer<S> {
 public:
  Size2 kernel_size() const { return window_.kernel; }
  Size2 stride() const { return window_.stride; }
  Size2 padding() const { return window_.padding; }

  LayerConfig config() const override {
    LayerConfig c;
    set_window_config(c, window_);
    return c;
  }
  static std::vector<StateShape> state_shapes(const LayerConfig& /*config*/) { return {}; }
  // The layer of kind Pool (MaxPool2d or AvgPool2d) that a file's configuration describes.
  template <class Pool>
  static std::unique_ptr<Pool> pool_from_config(const LayerConfig& c) {
    return std::make_unique<Pool>(config_size2(c, "kernel", 1), config_size2(c, "stride", 1),
                                  config_size2(c, "padding", 0));
  }
  // PyTorch's repr, e.g. "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))".
  std::string describe() const override {
    return concat(this->kind(), "(kernel_size=", window_.kernel.str(), ", stride=", window_.stride.str(),
                  window_.padding == Size2(0) ? "" : ", padding=" + window_.padding.str(), ")");
  }

 protected:
  Pool2d(const char* name, Size2 kernel, std::optional<Size2> stride, Size2 padding) {
    window_.kernel = kernel;
    window_.stride = stride.value_or(kernel);
    window_.padding = padding;
    window_.check(name);
    require(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, name,
            " padding has to be at most half the kernel size, but got padding=", padding.str(),
            " for kernel_size=", kernel.str());
  }

  Shape output_shape_for(const Shape& input) const override {
    Window2d g = window_;
    g.bind(this->describe(), input);
    require(input.size() <= std::numeric_limits<std::int32_t>::max(), this->describe(),
            " cannot take an input of ", input.str(), ": more than 2^31 values per sample");
    return {input.channels, g.out_h, g.out_w};
  }
  void on_bind() override {
    window_.bind(this->describe(), this->input_shape());
    // For each kernel column kx, the outputs whose pixel ox * sw + kx - pw is inside the image
    // (integer divisions, once here rather than once per row of outputs).
    first_.resize(static_cast<std::size_t>(window_.kernel.w));
    last_.resize(first_.size());
    for (Index kx = 0; kx < window_.kernel.w; ++kx) {
      const auto k = static_cast<std::size_t>(kx);
      Window2d::inside(kx - window_.padding.w, window_.stride.w, window_.in_w, window_.out_w, first_[k], last_[k]);
    }
  }

  // fn(sample) for every column, in chunks of samples on the library's threads (thread_count()).
  template <class Fn>
  void for_each_sample(Index batch, Fn&& fn) const {
    const Index chunk = std::max<Index>(1, (Index{1} << 15) / this->input_shape().size());
    for_each_chunk(batch, chunk, [&](Index begin, Index end) {
      for (Index s = begin; s < end; ++s) fn(s);
    });
  }

  // The window of output pixel (oy, ox) clipped to the image: rows [y0, y1), columns [x0, x1).
  void clipped(Index oy, Index ox, Index& y0, Index& y1, Index& x0, Index& x1) const {
    const Index top = oy * window_.stride.h - window_.padding.h;
    const Index left = ox * window_.stride.w - window_.padding.w;
    y0 = std::max<Index>(top, 0);
    y1 = std::min(top + window_.kernel.h, window_.in_h);
    x0 = std::max<Index>(left, 0);
    x1 = std::min(left + window_.kernel.w, window_.in_w);
  }

  Window2d window_;
  std::vector<Index> first_, last_;  // per kernel column: outputs [first, last) read inside the image
};

}  // namespace detail

template <class S = float>
class MaxPool2d final : public detail::Pool2d<S> {
 public:
  explicit MaxPool2d(Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = 0)
      : detail::Pool2d<S>("MaxPool2d", kernel, stride, padding) {}
  std::string_view kind() const override { return "MaxPool2d"; }
  static std::unique_ptr<MaxPool2d> from_config(const LayerConfig& c) {
    return detail::Pool2d<S>::template pool_from_config<MaxPool2d>(c);
  }

 protected:
  // y[c, oy, ox] = max over the clipped window of x[c, ., .];  argmax = where it was, as an
  // index into the sample's column (c H W + iy W + ix).
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    detail::resize_buffer(y_, this->output_shape().size(), x.cols());
    detail::resize_buffer(argmax_, y_.rows(), x.cols());
    const detail::Window2d& g = this->window_;
    if (pairs()) {
      pool_pairs(x);
      return y_;
    }
    this->for_each_sample(x.cols(), [&](Index s) {
      if (g.stride.w == 2) {
        pool_sample<2>(x.col(s).data(), s);
      } else if (g.stride.w == 1) {
        pool_sample<1>(x.col(s).data(), s);
      } else {
        pool_sample<0>(x.col(s).data(), s);
      }
    });
    return y_;
  }

  // Only a window's maximum receives gradient, and it is x[argmax[j]] = y[j]: a ReLU before the
  // pool has its backward mask (x > 0) read off y, so a Sequential lets the pool apply it.
  bool can_mask_relu_gradient() const override { return true; }

  // The usual 2 x 2 pool takes its input a few channels of a sample at a time from a BatchNorm2d +
  // ReLU before it (Layer::can_feed_planes): a plane's outputs depend on that plane alone. The
  // forward's kernels run on those planes, with the indices offset to the sample's column, so y
  // and argmax are the same bits, and backward is the pool's own.
  bool can_take_planes() const override { return pairs(); }
  const Matrix<S>& begin_planes(Index batch) override {
    detail::resize_buffer(y_, this->output_shape().size(), batch);
    detail::resize_buffer(argmax_, y_.rows(), batch);
    const detail::Window2d& g = this->window_;
    if (!avx512()) {  // the two passes' scratch for one sample: channels are taken on one thread each
      detail::resize_buffer(plane_across_, g.channels * g.in_pixels() / 2, 1);
      detail::resize_buffer(plane_across_at_, plane_across_.rows(), 1);
    }
    return y_;
  }
  void take_planes(Index s, Index first, Index count, const S* planes) override {
    const detail::Window2d& g = this->window_;
    S* y = y_.col(s).data() + first * g.out_pixels();
    std::int32_t* arg = argmax_.col(s).data() + first * g.out_pixels();
    const Index across = first * g.in_pixels() / 2;
    pairs_forward(planes, count, y, arg, static_cast<std::int32_t>(first * g.in_pixels()),
                  avx512() ? nullptr : plane_across_.data() + across,
                  avx512() ? nullptr : plane_across_at_.data() + across);
  }

  // dx[argmax[j]] += dy[j] for every output j of the sample; 0 elsewhere. Masking for a ReLU
  // before: += (y[j] > 0 ? dy[j] : 0), the ReLU's mask of x at argmax[j] (0 + 0 elsewhere).
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    detail::resize_buffer(dx_, this->input_shape().size(), dy.cols());
    const bool mask = this->relu_masking();
    if (pairs()) {
      const detail::Window2d& w = this->window_;
      this->for_each_sample(dy.cols(), [&](Index s) {
        pairs_backward(mask, dy.col(s).data(), y_.col(s).data(), argmax_.col(s).data(), w.channels,
                       dx_.col(s).data());
      });
      return dx_;
    }
    if (mask) detail::resize_buffer(masked_dy_, dy.rows(), dy.cols());
    this->for_each_sample(dy.cols(), [&](Index s) {
      const S* g = dy.col(s).data();
      if (mask) {  // a vectorized pass over the (smaller) output first: a branch in the scatter mispredicts
        detail::relu_mask(y_.col(s).data(), g, masked_dy_.col(s).data(), dy.rows());
        g = masked_dy_.col(s).data();
      }
      const std::int32_t* arg = argmax_.col(s).data();
      S* dx = dx_.col(s).data();
      dx_.col(s).setZero();
      for (Index j = 0; j < dy.rows(); ++j) dx[arg[j]] += g[j];
    });
    return dx_;
  }

 private:
  // Whether the usual 2 x 2 pool runs detail::max_pool_2x2_avx512 (float on a CPU with AVX512F).
  static bool avx512() {
#ifdef MLP_HAVE_AVX512F_CODE
    if constexpr (std::is_same_v<S, float>) return detail::cpu_has_avx512f();
#endif
    return false;
  }
  // y and argmax of `planes` channels of the usual 2 x 2 pool from their input x (indices into x
  // plus `base`): in one AVX-512 loop (h and hi unused), else in the two passes of
  // detail::max_pool_2x2 with h and hi as the pass across (planes H W / 2 values each). Same bits.
  void pairs_forward(const S* x, Index planes, S* y, std::int32_t* arg, std::int32_t base, S* h,
                     std::int32_t* hi) const {
    const detail::Window2d& w = this->window_;
#ifdef MLP_HAVE_AVX512F_CODE
    if constexpr (std::is_same_v<S, float>) {
      if (avx512()) {
        detail::max_pool_2x2_avx512(x, planes, w.in_h, w.in_w, y, arg, base);
        return;
      }
    }
#endif
    detail::max_pool_2x2(x, planes, w.in_h, w.in_w, h, hi, y, arg, base);
  }
  // dL/dx of `planes` channels of the usual 2 x 2 pool from their g, y and argmax, masked for a
  // ReLU before or not: in one AVX-512 loop where the forward has one, else
  // detail::max_pool_2x2_backward. Same bits.
  void pairs_backward(bool mask, const S* g, const S* y, const std::int32_t* arg, Index planes, S* dx) const {
    const detail::Window2d& w = this->window_;
#ifdef MLP_HAVE_AVX512F_CODE
    if constexpr (std::is_same_v<S, float>) {
      if (avx512()) {
        if (mask) {
          detail::max_pool_2x2_backward_avx512<true>(g, y, arg, planes, w.in_h, w.in_w, dx);
        } else {
          detail::max_pool_2x2_backward_avx512<false>(g, y, arg, planes, w.in_h, w.in_w, dx);
        }
        return;
      }
    }
#endif
    if (mask) {
      detail::max_pool_2x2_backward<true>(g, y, arg, planes, w.in_h, w.in_w, dx);
    } else {
      detail::max_pool_2x2_backward<false>(g, y, arg, planes, w.in_h, w.in_w, dx);
    }
  }
  // The usual 2 x 2 pool of stride 2 on even sizes, which has kernels of its own.
  bool pairs() const {
    const detail::Window2d& g = this->window_;
    return g.kernel == Size2(2) && g.stride == Size2(2) && g.padding == Size2(0) && g.in_h % 2 == 0 &&
           g.in_w % 2 == 0;
  }

  // A row of outputs at a time: start each at -infinity with the index of its clipped window's
  // first pixel, then let every tap of the window, in row-major order, compete.
  template <Index Stride>
  void pool_sample(const S* x, Index s) {
    const detail::Window2d& g = this->window_;
    S* y = y_.col(s).data();
    std::int32_t* arg = argmax_.col(s).data();
    for (Index c = 0; c < g.channels; ++c) {
      const S* plane = x + c * g.in_pixels();
      const auto base = static_cast<std::int32_t>(c * g.in_pixels());
      for (Index oy = 0; oy < g.out_h; ++oy, y += g.out_w, arg += g.out_w) {
        for (Index ox = 0; ox < g.out_w; ++ox) {
          Index y0, y1, x0, x1;
          this->clipped(oy, ox, y0, y1, x0, x1);
          y[ox] = -std::numeric_limits<S>::infinity();
          arg[ox] = base + static_cast<std::int32_t>(y0 * g.in_w + x0);
        }
        for (Index ky = 0; ky < g.kernel.h; ++ky) {
          const Index iy = oy * g.stride.h + ky - g.padding.h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (Index kx = 0; kx < g.kernel.w; ++kx) {
            const Index offset = kx - g.padding.w;
            const auto k = static_cast<std::size_t>(kx);
            detail::take_larger<Stride>(plane + iy * g.in_w + offset,
                                        base + static_cast<std::int32_t>(iy * g.in_w + offset), g.stride.w,
                                        this->first_[k], this->last_[k], y, arg);
          }
        }
      }
    }
  }

  // The usual 2 x 2 pool of stride 2 on even sizes, samples in chunks on the library's threads: in
  // one pass for float on a CPU with AVX512F (detail::max_pool_2x2_avx512), else in two
  // (detail::max_pool_2x2), each worker with its own scratch for the pass across. Same bits.
  void pool_pairs(const Eigen::Ref<const Matrix<S>>& x) {
    const detail::Window2d& g = this->window_;
    if (avx512()) {
      this->for_each_sample(x.cols(), [&](Index s) {
        pairs_forward(x.col(s).data(), g.channels, y_.col(s).data(), argmax_.col(s).data(), 0, nullptr, nullptr);
      });
      return;
    }
    const auto workers = static_cast<std::size_t>(detail::worker_count());
    if (across_.size() < workers) {  // grown only: the Trainer may change the thread count between steps
      across_.resize(workers);
      across_at_.resize(workers);
    }
    for (std::size_t w = 0; w < workers; ++w) {
      detail::resize_buffer(across_[w], this->input_shape().size() / 2, 1);
      detail::resize_buffer(across_at_[w], this->input_shape().size() / 2, 1);
    }
    const Index chunk = std::max<Index>(1, (Index{1} << 15) / this->input_shape().size());
    detail::worker_chunks(x.cols(), chunk, [&](int worker, Index /*chunk*/, Index begin, Index end) {
      const auto w = static_cast<std::size_t>(worker);
      for (Index s = begin; s < end; ++s) {
        pairs_forward(x.col(s).data(), g.channels, y_.col(s).data(), argmax_.col(s).data(), 0, across_[w].data(),
                      across_at_[w].data());
      }
    });
  }

  using IndexMatrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic>;
  Matrix<S> y_, dx_;                  // out x B, in x B
  Matrix<S> masked_dy_;               // out x B: dy masked for a ReLU before the pool (relu_masking())
  IndexMatrix argmax_;                // out x B: where each maximum came from in its sample's column
  std::vector<Matrix<S>> across_;     // per worker: C H W / 2, the pass across of max_pool_2x2
  std::vector<IndexMatrix> across_at_;
  Matrix<S> plane_across_;            // C H W / 2: the pass across of taken planes, at their channels' place
  IndexMatrix plane_across_at_;
};

template <class S = float>
class AvgPool2d final : public detail::Pool2d<S> {
 public:
  explicit AvgPool2d(Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = 0)
      : detail::Pool2d<S>("AvgPool2d", kernel, stride, padding) {}
  std::string_view kind() const override { return "AvgPool2d"; }
  static std::unique_ptr<AvgPool2d> from_config(const LayerConfig& c) {
    return detail::Pool2d<S>::template pool_from_config<AvgPool2d>(c);
  }

 protected:
  // y[c, oy, ox] = (1 / (kh kw)) sum over the clipped window of x[c, ., .] (padding adds zeros).
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    detail::resize_buffer(y_, this->output_shape().size(), x.cols());
    const S area = S(this->window_.taps());
    this->for_each_sample(x.cols(), [&](Index s) {
      y_.col(s).setZero();
      visit([](S& out, const S& in) { out += in; }, x.col(s).data(), y_.col(s).data());
      y_.col(s) /= area;
    });
    return y_;
  }

  // dx[i] = sum of dy[j] / (kh kw) over the outputs j whose window holds input pixel i.
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    detail::resize_buffer(dx_, this->input_shape().size(), dy.cols());
    const S area = S(this->window_.taps());
    this->for_each_sample(dy.cols(), [&](Index s) {
      dx_.col(s).setZero();
      visit([area](const S& out, S& in) { in += out / area; }, dx_.col(s).data(), dy.col(s).data());
    });
    return dx_;
  }

 private:
  // op(output, input) for every output pixel of a sample and every input pixel in its clipped
  // window, a row of outputs at a time (taps in row-major order, as PyTorch sums them). `in` and
  // `out` point at the sample's input and output columns (one of them is written by op).
  template <class Op, class In, class Out>
  void visit(Op&& op, In* in, Out* out) const {
    const detail::Window2d& g = this->window_;
    for (Index c = 0; c < g.channels; ++c) {
      In* plane = in + c * g.in_pixels();
      for (Index oy = 0; oy < g.out_h; ++oy, out += g.out_w) {
        for (Index ky = 0; ky < g.kernel.h; ++ky) {
          const Index iy = oy * g.stride.h + ky - g.padding.h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (Index kx = 0; kx < g.kernel.w; ++kx) {
            const Index offset = kx - g.padding.w;
            const auto k = static_cast<std::size_t>(kx);
            In* row = plane + iy * g.in_w + offset;
            for (Index ox = this->first_[k]; ox < this->last_[k]; ++ox) op(out[ox], row[ox * g.stride.w]);
          }
        }
      }
    }
  }

  Matrix<S> y_, dx_;  // out x B, in x B
};

}  // namespace mlp
