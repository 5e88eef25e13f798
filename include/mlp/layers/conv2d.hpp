// 2-D convolution, PyTorch's nn.Conv2d (groups 1, dilation 1, zero padding) in column layout.
//
// Per sample, with P = OH x OW output pixels and K = C_in x kh x kw taps:
//   y[o, oy, ox] = b[o] + sum_{c, ky, kx} W[o, c, ky, kx] x[c, oy sh + ky - ph, ox sw + kx - pw]
// computed as one matrix product per chunk of n samples: cols = im2col(x) is (n P) x K, and
// Z = cols W^T is (n P) x O, whose columns are the output channels' pixel blocks. The weight is
// out x (in kh kw), i.e. PyTorch's (out, in, kh, kw) tensor with each output channel's filter
// flattened row-wise: W(o, (c kh + ky) kw + kx). Derivations in docs/derivations.md.
//
// Chunks of a few samples go to the library's threads (thread_count()) whole: each worker lowers
// into its own buffer and runs single-threaded products (detail/gemm.hpp), so the lowered matrix
// stays in cache and memory does not grow with the batch. Every chunk's results land in places
// fixed by the chunk, and a product's bits depend on no thread count, so the results are the same
// bits whatever the thread count. Backward lowers x again rather than keeping the whole batch's
// cols (9 x the input for a 3 x 3 kernel). On a CPU with AVX512F, a float layer whose taps are
// contiguous runs (stride 1, "same" width) does not write cols for forward or for dW: those products
// pack cols straight from the images, and forward stores its tiles into y with the bias added; dL/dx
// computes dL/dcols a few channels at a time and adds them into dx while they are in cache
// (detail/conv_lowered_avx512.hpp), with the same bits.
//
// A first layer (at most kPerSampleMaxChannels input channels, e.g. grey or RGB images, at most
// kPerSampleMaxTaps taps per output, on small images) works one sample at a time instead (ConvMethod::PerSample,
// detail/conv_per_sample.hpp): with K that small the lowered product is bound by writing its
// (n P) x O result, which then has to be copied into the output's layout. Per sample, tiles of
// output channels and pixels are summed in registers and written once, in place; dL/dW is summed
// in tiles of channels and taps; dL/dcols = dy W reads dy in place (one sample's dy is already the
// P x O matrix that the lowered layout builds). The values agree with the lowered method to
// rounding, not bit for bit; each method gives the same bits at any thread count.
//
// With MatmulPrecision::BFloat16 (float layers only) the three products of a chunk take bf16 inputs
// and accumulate in fp32 (detail/gemm_bf16.hpp), on the worker's thread with the worker's packing
// buffers; their bits depend on no thread count, a single sample's included. bf16 always takes the
// lowered method.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/detail/conv_lowered_avx512.hpp"
#include "mlp/detail/conv_per_sample.hpp"
#include "mlp/detail/gemm.hpp"
#include "mlp/detail/gemm_bf16.hpp"
#include "mlp/detail/im2col.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/detail/window2d.hpp"
#include "mlp/detail/worker_chunks.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/layers/linear.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace mlp {

// How a Conv2d computes (the top of this file): Auto takes PerSample for an fp32 or double layer with
// at most kPerSampleMaxChannels input channels, kPerSampleMaxTaps taps per output and
// kPerSampleMaxValues values in one sample's lowering (P x K, which the kernels read many times
// over), Lowered otherwise. PerSample measured faster up to 3 x 112 x 112 images (338,688 values)
// and 75 taps, and even with 147 (docs/performance.md, "First layers, one sample at a time";
// benchmarks/bench_conv); beyond what was measured, Auto keeps the lowered method.
enum class ConvMethod { Auto, Lowered, PerSample };
inline constexpr Index kPerSampleMaxChannels = 4;
inline constexpr Index kPerSampleMaxTaps = 100;
inline constexpr Index kPerSampleMaxValues = Index{1} << 19;  // 2 MiB of floats

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;  // zeros on each side
  bool bias = true;
  Init init = Init::KaimingUniform;  // fan_in = in_channels x kernel area
};

template <class S = float>
class Conv2d final : public Layer<S> {
 public:
  // options by reference: g++ 12.2 (Debian 12) with AVX-512 enabled at -O2 builds a by-value
  // Conv2dOptions{} on the stack with its padding set to the stride's 1 (GCC bug 108599), which
  // silently padded every such layer.
  Conv2d(Index in_channels, Index out_channels, Size2 kernel, Rng& rng, const Conv2dOptions& options = {})
      : in_(in_channels), out_(out_channels), has_bias_(options.bias) {
    window_.kernel = kernel;
    window_.stride = options.stride;
    window_.padding = options.padding;
    window_.check("Conv2d");
    detail::require(in_channels > 0 && out_channels > 0 && in_channels <= kMaxLayerSize &&
                        out_channels <= kMaxLayerSize,
                    "Conv2d needs positive channel counts, but got in_channels=", in_channels,
                    " and out_channels=", out_channels);
    detail::require(static_cast<double>(in_channels) * static_cast<double>(window_.taps()) <= kMaxLayerSize,
                    "Conv2d has too many weights per output channel: ", in_channels, " x ", kernel.h, " x ",
                    kernel.w);
    weight_.resize(out_, in_ * window_.taps());
    bias_.setZero(out_, 1);
    const auto fan_in = static_cast<double>(weight_.cols());
    const double fan_out = static_cast<double>(out_) * static_cast<double>(window_.taps());
    detail::init_weights(weight_, has_bias_ ? &bias_ : nullptr, rng, options.init, fan_in, fan_out);
    dweight_.setZero(weight_.rows(), weight_.cols());
    dbias_.setZero(out_, 1);
  }

  std::string_view kind() const override { return "Conv2d"; }
  LayerConfig config() const override {
    LayerConfig c;
    c.set("in_channels", in_).set("out_channels", out_).set("bias", has_bias_);
    detail::set_window_config(c, window_);
    return c;
  }
  // The weights of a rebuilt layer are placeholders until a state dict is loaded into it.
  static std::unique_ptr<Conv2d> from_config(const LayerConfig& c) {
    Rng rng(0);
    Conv2dOptions options{detail::config_size2(c, "stride", 1), detail::config_size2(c, "padding", 0),
                          c.boolean("bias"), Init::KaimingUniform};
    return std::make_unique<Conv2d>(c.integer("in_channels", 1, kMaxLayerSize),
                                    c.integer("out_channels", 1, kMaxLayerSize),
                                    detail::config_size2(c, "kernel", 1), rng, options);
  }
  static std::vector<StateShape> state_shapes(const LayerConfig& c) {
    const Index in = c.integer("in_channels", 1, kMaxLayerSize), out = c.integer("out_channels", 1, kMaxLayerSize);
    const Size2 k = detail::config_size2(c, "kernel", 1);
    detail::require(static_cast<double>(in) * static_cast<double>(k.h) * static_cast<double>(k.w) <= kMaxLayerSize,
                    "layer configuration: Conv2d has too many weights per output channel: ", in, " x ",
                    k.h, " x ", k.w);
    std::vector<StateShape> shapes{{"weight", out, in * k.h * k.w}};
    if (c.boolean("bias")) shapes.push_back({"bias", out, 1});
    return shapes;
  }
  void set_matmul_precision(MatmulPrecision precision) override {
    detail::require(precision == MatmulPrecision::Float32 || std::is_same_v<S, float>,
                    "bf16 matrix products are for float models (double models are for gradient checks)");
    detail::require(precision == MatmulPrecision::Float32 || method_ != ConvMethod::PerSample,
                    describe(), " was set to the PerSample method, which has no bf16 products");
    bf16_ = precision == MatmulPrecision::BFloat16;
  }
  // The kernel of the bf16 products: Bf16Path::Portable gives the same bits as the AVX512_BF16 one,
  // slowly (for tests and comparisons).
  void set_bf16_path(detail::Bf16Path path) { bf16_path_ = path; }
  // Forces a method (for tests and comparisons); PerSample is refused with bf16 products, which
  // always take the lowered method.
  void set_method(ConvMethod method) {
    detail::require(method != ConvMethod::PerSample || !bf16_,
                    describe(), ": bf16 products take the lowered method, not PerSample");
    method_ = method;
  }
  // The method forward and backward use now (with Auto, final once the layer is bound: the image
  // size counts).
  ConvMethod method() const {
    if (bf16_) return ConvMethod::Lowered;
    if (method_ != ConvMethod::Auto) return method_;
    const bool small = in_ <= kPerSampleMaxChannels && weight_.cols() <= kPerSampleMaxTaps &&
                       (!this->bound() || window_.out_pixels() * weight_.cols() <= kPerSampleMaxValues);
    return small ? ConvMethod::PerSample : ConvMethod::Lowered;
  }
  // PyTorch's repr: "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))".
  std::string describe() const override {
    return detail::concat("Conv2d(", in_, ", ", out_, ", kernel_size=", window_.kernel.str(),
                          ", stride=", window_.stride.str(),
                          window_.padding == Size2(0) ? "" : ", padding=" + window_.padding.str(),
                          has_bias_ ? "" : ", bias=false", ")");
  }

  std::vector<TensorRef<S>> parameters() override {
    std::vector<TensorRef<S>> list{tensor_ref<S>("weight", weight_, &dweight_, true)};
    if (has_bias_) list.push_back(tensor_ref<S>("bias", bias_, &dbias_, false));
    return list;
  }

  Index in_channels() const { return in_; }
  Index out_channels() const { return out_; }
  Size2 kernel_size() const { return window_.kernel; }
  Size2 stride() const { return window_.stride; }
  Size2 padding() const { return window_.padding; }
  bool has_bias() const { return has_bias_; }
  Matrix<S>& weight() { return weight_; }
  Matrix<S>& bias() { return bias_; }
  const Matrix<S>& weight() const { return weight_; }
  const Matrix<S>& bias() const { return bias_; }
  const Matrix<S>& weight_grad() const { return dweight_; }
  const Matrix<S>& bias_grad() const { return dbias_; }

 protected:
  Shape output_shape_for(const Shape& input) const override {
    detail::require(input.channels == in_, describe(), " needs ", in_, " input channels, but its input is ",
                    input.described(),
                    input.is_flat() ? " (a Conv2d used on its own must first be bound to its image shape, "
                                      "e.g. layer.bind(Shape{1, 28, 28}))"
                                    : "");
    detail::Window2d g = window_;
    g.bind(describe(), input);
    return {out_, g.out_h, g.out_w};
  }
  void on_bind() override {
    window_.bind(describe(), this->input_shape());
    // Samples lowered at a time: about 2^18 values of cols per worker (1 MiB of floats, so the
    // product reads it from cache), at most 16 so that a batch of 128 still makes 8 chunks.
    max_chunk_ = std::clamp<Index>((Index{1} << 18) / (window_.out_pixels() * weight_.cols()), 1, 16);
    cols_.clear();
    z_.clear();
    tap_masks_ = {};
    buffers_.clear();
    workspaces_.clear();
  }

  // A Sequential's layer lowers its input again in backward instead of copying it.
  bool can_read_kept_input() const override { return true; }

  // One sample at a time, backward reads a sample's dL/dy at a time, so it can pull each from a
  // BatchNorm2d after it instead of that layer writing the batch's (Layer::can_take_samples).
  bool can_take_samples() const override { return method() == ConvMethod::PerSample; }

  // Per chunk of n samples: cols = im2col(x): (n P) x K;  Z = cols W^T: (n P) x O;
  // y[o * P + p, s] = Z[s * P + p, o] + b[o]. In Train mode x is kept for backward (copied, unless
  // the Sequential keeps it).
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode mode) override {
    detail::resize_buffer(y_, this->output_shape().size(), x.cols());
    if (mode == Mode::Train && this->kept_input() == nullptr) {
      detail::assign_buffer(x_, x);
    } else if (mode == Mode::Train) {
      x_.resize(0, 0);  // a copy from a use on its own is not needed any more
    }
    const Index chunk = prepare_workers(x.cols());
    detail::worker_chunks(x.cols(), chunk, [&](int worker, Index /*chunk*/, Index begin, Index end) {
      forward_chunk(x, worker, begin, end - begin);
    });
    return y_;
  }

  // Per chunk: dZ[s * P + p, o] = dy[o * P + p, s];  dW_chunk = dZ^T cols (O x K);
  // db_chunk = dZ^T 1;  dcols = dZ W: (n P) x K;  dx = col2im(dcols). The chunks' dW and db are
  // summed in chunk order, so the result does not depend on which worker ran which chunk.
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    const Index chunk = prepare_workers(dy.cols()), chunks = (dy.cols() + chunk - 1) / chunk;
    detail::resize_buffer(dweight_parts_, weight_.size(), chunks);
    detail::resize_buffer(dbias_parts_, out_, chunks);
    if (this->input_grad_) {
      detail::resize_buffer(dx_, this->input_shape().size(), dy.cols());
    } else {
      dx_.resize(0, 0);
    }
    detail::worker_chunks(dy.cols(), chunk, [&](int worker, Index c, Index begin, Index end) {
      backward_chunk(dy, worker, c, begin, end - begin);
    });
    Eigen::Map<Matrix<S>> dweight(dweight_.data(), weight_.size(), 1);
    dweight = dweight_parts_.col(0);
    for (Index c = 1; c < chunks; ++c) dweight += dweight_parts_.col(c);
    if (has_bias_) {
      dbias_ = dbias_parts_.col(0);
      for (Index c = 1; c < chunks; ++c) dbias_ += dbias_parts_.col(c);
    }
    return dx_;
  }

 private:
  // The input of the last Train forward.
  const Matrix<S>& input() const { return this->kept_input() != nullptr ? *this->kept_input() : x_; }

  // The chunk size for a batch (at most half of it, see the top of the file), and one scratch
  // pair per worker sized for a full chunk (with bf16, packing buffers too, sized here because
  // dynamic scheduling may give a worker its first full chunk in any later step); grown only when
  // the shapes, the batch size or the thread count grow.
  Index prepare_workers(Index batch) {
    const Index chunk = std::max<Index>(1, std::min(max_chunk_, (batch + 1) / 2));
    const auto workers = static_cast<std::size_t>(detail::worker_count());
    if (cols_.size() < workers) {  // grown only: the Trainer may change the thread count between steps
      cols_.resize(workers);
      z_.resize(workers);
      buffers_.resize(workers);
      pulled_.resize(workers);
    }
    if (bf16_ && workspaces_.size() < workers) workspaces_.resize(workers);
    const Index rows = chunk * window_.out_pixels(), K = weight_.cols();
    for (std::size_t w = 0; w < workers; ++w) {
      if (cols_[w].size() < rows * K) detail::resize_buffer(cols_[w], rows * K, 1);
      if (z_[w].size() < rows * out_) detail::resize_buffer(z_[w], rows * out_, 1);
      // The packing buffers of the products that product() runs for this worker.
      const auto reserve = [&](Index m, Index n, Index k) {
        if (bf16_) {
          detail::reserve_gemm_bf16(workspaces_[w], m, n, k);
        } else {
          detail::reserve_gemm(buffers_[w], m, n, k);
        }
      };
      reserve(rows, out_, K);  // Z = cols W^T
      reserve(out_, K, rows);  // dW = dZ^T cols
      reserve(rows, K, out_);  // dcols = dZ W
      // One sample's dcols = dy W (PerSample). Both methods' buffers are sized whichever runs, so
      // that set_method between steps allocates nothing.
      reserve(window_.out_pixels(), K, out_);
      detail::resize_buffer(pulled_[w], this->output_shape().size() + kPulledAlign, 1);
    }
#ifdef MLP_HAVE_AVX512F_CODE
    if (fused_lowering(chunk)) {
      if (!tap_masks_.fits(window_, chunk)) detail::build_chunk_tap_masks(window_, chunk, tap_masks_);
      for (std::size_t w = 0; w < workers; ++w) {
        buffers_[w].reserve(1, detail::weight_grad_a_floats(out_, rows), detail::weight_grad_b_floats(K, rows));
        buffers_[w].reserve(1, detail::input_grad_a_floats(out_, rows), detail::input_grad_b_floats(window_, out_));
      }
    }
#endif
    return chunk;
  }

  // Whether the forward and dW products of a chunk of n samples pack cols straight from the images
  // (detail/conv_lowered_avx512.hpp; float, fp32 products on the library's own kernel, contiguous
  // taps).
  bool fused_lowering(Index n) const {
    return std::is_same_v<S, float> && !bf16_ && detail::gemm_f32_kernel_available() &&
           detail::conv_lowered_fused(window_, n);
  }

  // C (m x n, column stride m) = op(A) op(B), in S or with bf16 inputs and fp32 accumulation, on the
  // calling thread when it is one of worker_chunks' (the products do not nest threads).
  void product(std::size_t worker, Index m, Index n, Index k, const S* a, Index lda, bool ta, const S* b, Index ldb,
               bool tb, S* c) {
    if constexpr (std::is_same_v<S, float>) {
      if (bf16_) {
        detail::gemm_bf16(m, n, k, a, lda, ta, b, ldb, tb, c, m, false, workspaces_[worker], bf16_path_);
        return;
      }
    }
    detail::gemm(m, n, k, a, lda, ta, b, ldb, tb, c, m, false, buffers_[worker]);
  }

  void forward_chunk(const Eigen::Ref<const Matrix<S>>& x, int worker, Index first, Index n) {
    const Index P = window_.out_pixels(), rows = n * P;
    auto w = static_cast<std::size_t>(worker);
    if (method() == ConvMethod::PerSample) {
      // A first layer's output (32 x 28 x 28 floats per sample in the study's CNN, written once, read
      // by the next layer's pass) is bound by the memory's writes when two cores write it: streamed,
      // a line is not read in before it is overwritten, which halved the study's first convolution
      // at 2 threads on the Zen 5 (0.82 -> 0.41-0.44 ms per step). On one thread it cost the next
      // layer more than it saved (that layer then reads it from memory rather than cache).
      const bool stream = detail::worker_count() > 1;
      for (Index s = first; s < first + n; ++s) {
        detail::im2col(x, s, 1, window_, cols_[w].data(), P);
        if (stream) {
          detail::taps_weighted_sum<true>(cols_[w].data(), P, weight_.cols(), weight_.data(), out_, bias_.data(),
                                          y_.col(s).data());
        } else {
          detail::taps_weighted_sum(cols_[w].data(), P, weight_.cols(), weight_.data(), out_, bias_.data(),
                                    y_.col(s).data());
        }
      }
      if (stream) detail::stream_fence();
      return;
    }
#ifdef MLP_HAVE_AVX512F_CODE
    if constexpr (std::is_same_v<S, float>) {
      if (fused_lowering(n)) {
        detail::conv_forward_avx512(x.data(), x.outerStride(), first, n, window_, tap_masks_, weight_.data(), out_,
                                    bias_.data(), y_.data(), y_.rows(), buffers_[w].a(0), buffers_[w].b(0));
        return;
      }
    }
#endif
    detail::im2col(x, first, n, window_, cols_[w].data(), rows);
    const Eigen::Map<const Matrix<S>> cols(cols_[w].data(), rows, weight_.cols());
    Eigen::Map<Matrix<S>> z(z_[w].data(), rows, out_);
    product(w, rows, out_, weight_.cols(), cols.data(), rows, false, weight_.data(), out_, true, z.data());
    for (Index s = 0; s < n; ++s) {
      for (Index o = 0; o < out_; ++o) {
        y_.col(first + s).segment(o * P, P).array() = z.col(o).segment(s * P, P).array() + bias_(o, 0);
      }
    }
  }

  void backward_chunk(const Eigen::Ref<const Matrix<S>>& dy, int worker, Index chunk, Index first, Index n) {
    const Index P = window_.out_pixels(), rows = n * P;
    auto w = static_cast<std::size_t>(worker);
    if (method() == ConvMethod::PerSample) {
      backward_per_sample(dy, w, chunk, first, n);
      return;
    }
    Eigen::Map<Matrix<S>> dz(z_[w].data(), rows, out_);
    for (Index s = 0; s < n; ++s) {
      for (Index o = 0; o < out_; ++o) dz.col(o).segment(s * P, P) = dy.col(first + s).segment(o * P, P);
    }
    Eigen::Map<Matrix<S>> cols(cols_[w].data(), rows, weight_.cols());
    Eigen::Map<Matrix<S>> dweight(dweight_parts_.col(chunk).data(), out_, weight_.cols());
    bool dweight_done = false;
#ifdef MLP_HAVE_AVX512F_CODE
    if constexpr (std::is_same_v<S, float>) {
      if (fused_lowering(n)) {
        const Matrix<S>& x = input();
        detail::conv_weight_grad_avx512(x.data(), x.rows(), first, n, window_, tap_masks_, dz.data(), rows, out_,
                                        dweight.data(), buffers_[w].a(0), buffers_[w].b(0));
        dweight_done = true;
      }
    }
#endif
    if (!dweight_done) {
      detail::im2col<S>(input(), first, n, window_, cols.data(), rows);
      product(w, out_, weight_.cols(), rows, dz.data(), rows, true, cols.data(), rows, false, dweight.data());
    }
    if (has_bias_) dbias_parts_.col(chunk) = dz.colwise().sum().transpose();
    if (!this->input_grad_) return;
#ifdef MLP_HAVE_AVX512F_CODE
    if constexpr (std::is_same_v<S, float>) {
      if (fused_lowering(n)) {
        detail::conv_input_grad_avx512(dz.data(), rows, out_, weight_.data(), window_, first, n, cols.data(),
                                       buffers_[w].a(0), buffers_[w].b(0), dx_.data(), dx_.rows());
        return;
      }
    }
#endif
    // cols is free again: it now holds dL/dcols
    product(w, rows, weight_.cols(), out_, dz.data(), rows, false, weight_.data(), out_, false, cols.data());
    detail::col2im(cols_[w].data(), rows, first, n, window_, dx_);
  }

  // Per sample s of the chunk: cols = im2col(x_s); dW += dy_s^T cols and db += dy_s^T 1, a dot
  // product per output channel and tap; dcols = dy_s W with dy_s read in place as P x O; dx_s =
  // col2im(dcols).
  void backward_per_sample(const Eigen::Ref<const Matrix<S>>& dy, std::size_t w, Index chunk, Index first, Index n) {
    const Index P = window_.out_pixels(), K = weight_.cols();
    S* dweight = dweight_parts_.col(chunk).data();
    S* dbias = dbias_parts_.col(chunk).data();
    std::fill(dweight, dweight + weight_.size(), S(0));
    std::fill(dbias, dbias + out_, S(0));
    for (Index s = first; s < first + n; ++s) {
      detail::im2col<S>(input(), s, 1, window_, cols_[w].data(), P);
      const S* g = dy.col(s).data();
      if (this->pulls_samples()) {
        // at dy's column's offset from a 64-byte boundary, where the giver's own dx would have it
        S* pulled = pulled_[w].data() + (s * dy.outerStride()) % kPulledAlign;
        this->pull_sample(s, pulled);
        g = pulled;
      }
      detail::taps_gradient(cols_[w].data(), P, K, g, out_, dweight, dbias);
      if (!this->input_grad_) continue;
      product(w, P, K, out_, g, P, false, weight_.data(), out_, false, cols_[w].data());
      detail::col2im(cols_[w].data(), P, s, 1, window_, dx_);
    }
  }

  Index in_, out_;
  bool has_bias_;
  detail::Window2d window_;           // kernel, stride, padding; sizes once bound
  Index max_chunk_ = 1;               // samples lowered at a time, at most
  bool bf16_ = false;                 // products with bfloat16 inputs (float layers only)
  ConvMethod method_ = ConvMethod::Auto;
  detail::Bf16Path bf16_path_ = detail::Bf16Path::Auto;
  Matrix<S> weight_, bias_;           // out x (in kh kw), out x 1 (zero, not a parameter, without bias)
  Matrix<S> dweight_, dbias_;         // same shapes
  Matrix<S> dweight_parts_;           // (out in kh kw) x chunks: each chunk's dW
  Matrix<S> dbias_parts_;             // out x chunks
  Matrix<S> x_;                       // in.size() x B, the input of the last Train forward (unless kept)
  Matrix<S> y_;                       // out.size() x B
  Matrix<S> dx_;                      // in.size() x B
  std::vector<Matrix<S>> cols_, z_;   // per worker: (chunk P) x K and (chunk P) x O, flat
  std::vector<detail::GemmBuffers<S>> buffers_;    // per worker: the products' packing buffers
  std::vector<detail::GemmWorkspace> workspaces_;  // per worker: the bf16 products' packing buffers
  detail::ChunkTapMasks tap_masks_;                // the fused products' masks, shared by the workers
  static constexpr Index kPulledAlign = 16;        // 64 bytes of floats, a multiple of every packet's alignment
  std::vector<Matrix<S>> pulled_;                  // per worker: a sample's dL/dy pulled from the layer after
};

}  // namespace mlp
