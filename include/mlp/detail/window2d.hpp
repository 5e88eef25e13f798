// The geometry of a window sliding over an image, shared by Conv2d and the pooling layers:
// kernel, stride and zero padding per axis, and the output size they give (PyTorch's formula,
// floor mode): out = (in + 2 padding - kernel) / stride + 1.
//
// Size2 is the public spelling of a (height, width) pair: one integer means a square, two mean
// (h, w), as PyTorch's kernel_size=3 or kernel_size=(3, 5).
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/shape.hpp"
#include "mlp/core/types.hpp"
#include "mlp/layers/layer_config.hpp"

#include <algorithm>
#include <string>

namespace mlp {

struct Size2 {
  Index h = 0;
  Index w = 0;

  Size2(Index both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor): Conv2d(1, 8, 3, ...)
  Size2(Index height, Index width) : h(height), w(width) {}

  // "(3, 5)", as PyTorch prints kernel sizes.
  std::string str() const { return detail::concat("(", h, ", ", w, ")"); }
  bool operator==(const Size2& o) const { return h == o.h && w == o.w; }
  bool operator!=(const Size2& o) const { return !(*this == o); }
};

namespace detail {

// A window's configuration and, once bound to an input shape, the sizes it implies.
struct Window2d {
  Size2 kernel{1}, stride{1}, padding{0};
  Index channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;

  Index taps() const { return kernel.h * kernel.w; }  // values under one window of one channel
  Index in_pixels() const { return in_h * in_w; }
  Index out_pixels() const { return out_h * out_w; }

  // Throws naming `layer` unless the kernel and stride are positive and the padding is not
  // negative (a stride of 0 would never move the window).
  void check(const std::string& layer) const {
    require(kernel.h > 0 && kernel.w > 0, layer, " kernel_size has to be positive, but got ", kernel.str());
    require(stride.h > 0 && stride.w > 0, layer, " stride has to be positive, but got ", stride.str());
    require(padding.h >= 0 && padding.w >= 0, layer, " padding cannot be negative, but got ", padding.str());
    require(kernel.h <= kMaxLayerSize && kernel.w <= kMaxLayerSize && stride.h <= kMaxLayerSize &&
                stride.w <= kMaxLayerSize && padding.h <= kMaxLayerSize && padding.w <= kMaxLayerSize,
            layer, " sizes have to be at most ", kMaxLayerSize);
  }

  // Binds the window to `input`; throws naming `layer` when the kernel does not fit the padded
  // input (there would be no output pixel).
  void bind(const std::string& layer, const Shape& input) {
    const Index padded_h = input.height + 2 * padding.h, padded_w = input.width + 2 * padding.w;
    require(kernel.h <= padded_h && kernel.w <= padded_w, layer, " cannot take an input of ", input.described(),
            ": its ", kernel.h, " x ", kernel.w, " kernel is larger than the padded input of ", padded_h,
            " x ", padded_w, " (padding ", padding.h, " x ", padding.w, ")");
    channels = input.channels;
    in_h = input.height;
    in_w = input.width;
    out_h = (padded_h - kernel.h) / stride.h + 1;
    out_w = (padded_w - kernel.w) / stride.w + 1;
  }

  // The output columns ox whose input column ix = ox * stride + offset lies inside the image,
  // [first, last): offset = kx - padding for kernel column kx. The same along y with the rows.
  static void inside(Index offset, Index stride_, Index in, Index out, Index& first, Index& last) {
    first = offset >= 0 ? 0 : (-offset + stride_ - 1) / stride_;
    last = in - 1 - offset < 0 ? 0 : std::min(out, (in - 1 - offset) / stride_ + 1);
    first = std::min(first, out);
    last = std::max(last, first);
  }
};

// The six window entries of a layer configuration, read and written under PyTorch's names.
inline void set_window_config(LayerConfig& c, const Window2d& g) {
  c.set("kernel_h", g.kernel.h).set("kernel_w", g.kernel.w);
  c.set("stride_h", g.stride.h).set("stride_w", g.stride.w);
  c.set("padding_h", g.padding.h).set("padding_w", g.padding.w);
}
inline Size2 config_size2(const LayerConfig& c, const std::string& name, Index min) {
  return {c.integer(name + "_h", min, kMaxLayerSize), c.integer(name + "_w", min, kMaxLayerSize)};
}

}  // namespace detail
}  // namespace mlp
