// im2col and its adjoint col2im: the lowering that turns a convolution into one matrix product.
//
// For `count` samples of x (C*H*W x B, one image per column in C, H, W order) starting at column
// `first`, im2col writes cols: (count * P) x (C * kh * kw) with P = OH * OW output pixels, where
//   cols(s * P + oy * OW + ox, (c * kh + ky) * kw + kx) = x(c, oy * sh + ky - ph, ox * sw + kx - pw)
// of sample first + s, and 0 where that position falls into the padding. Every column of cols is
// then contiguous and each output row of it is a contiguous run of an input row (for stride 1),
// so both passes are copies. col2im adds cols back into the positions they came from (the
// transpose of im2col), which is how dL/dx is gathered from dL/dcols.
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/contiguous_tap.hpp"
#include "mlp/detail/im2col_avx512.hpp"
#include "mlp/detail/window2d.hpp"

#include <algorithm>
#include <type_traits>

namespace mlp::detail {

// out[ox] = row[ox * stride + offset] for ox in [first, last), 0 elsewhere in [0, width).
template <class S>
void gather_row(S* out, const S* row, Index offset, Index stride, Index first, Index last, Index width) {
  std::fill(out, out + first, S(0));
  if (stride == 1) {
    std::copy(row + first + offset, row + last + offset, out + first);
  } else {
    for (Index ox = first; ox < last; ++ox) out[ox] = row[ox * stride + offset];
  }
  std::fill(out + last, out + width, S(0));
}

// row[ox * stride + offset] += in[ox] for ox in [first, last).
template <class S>
void scatter_row(const S* in, S* row, Index offset, Index stride, Index first, Index last) {
  if (stride == 1) {
    S* target = row + offset;
    for (Index ox = first; ox < last; ++ox) target[ox] += in[ox];
  } else {
    for (Index ox = first; ox < last; ++ox) row[ox * stride + offset] += in[ox];
  }
}

// Zeroes the edge columns of rows [row0, row1) that a contiguous tap wraps into the next row.
template <class S>
void zero_wrapped(S* out, const ContiguousTap& t, Index width) {
  if (t.dx == 0) return;
  // |dx| may exceed the width (a 7 x 7 kernel with padding 3 on a 2-pixel-wide image): every column
  const Index from = t.dx < 0 ? 0 : std::max<Index>(0, width - t.dx);  // of the row is padding then
  const Index to = t.dx < 0 ? std::min(width, -t.dx) : width;
  for (Index oy = t.row0; oy < t.row1; ++oy) std::fill(out + oy * width + from, out + oy * width + to, S(0));
}

// cols (count * P rows, C * kh * kw columns, leading dimension ld >= count * P) from samples
// [first, first + count) of x. Column by column: each writes one contiguous run. im2col below runs
// this, or for float images with contiguous taps on a CPU with AVX512F the same copies with
// masked vector loads (im2col_avx512.hpp).
template <class S>
void im2col_portable(const Eigen::Ref<const Matrix<S>>& x, Index first, Index count, const Window2d& g, S* cols,
                     Index ld) {
  const Index P = g.out_pixels();
  for (Index c = 0; c < g.channels; ++c) {
    for (Index ky = 0; ky < g.kernel.h; ++ky) {
      for (Index kx = 0; kx < g.kernel.w; ++kx) {
        const Index offset = kx - g.padding.w;
        Index x0 = 0, x1 = 0;
        Window2d::inside(offset, g.stride.w, g.in_w, g.out_w, x0, x1);
        S* column = cols + ((c * g.kernel.h + ky) * g.kernel.w + kx) * ld;
        if (taps_contiguous(g)) {
          const ContiguousTap t = contiguous_tap(g, ky, kx);
          for (Index s = 0; s < count; ++s) {
            const S* plane = x.col(first + s).data() + c * g.in_pixels();
            S* out = column + s * P;
            std::fill(out, out + t.begin, S(0));
            std::copy(plane + t.begin + t.shift, plane + t.end + t.shift, out + t.begin);
            std::fill(out + t.end, out + P, S(0));
            zero_wrapped(out, t, g.out_w);
          }
          continue;
        }
        for (Index s = 0; s < count; ++s) {
          const S* plane = x.col(first + s).data() + c * g.in_pixels();
          S* out = column + s * P;
          for (Index oy = 0; oy < g.out_h; ++oy, out += g.out_w) {
            const Index iy = oy * g.stride.h + ky - g.padding.h;
            if (iy < 0 || iy >= g.in_h) {
              std::fill(out, out + g.out_w, S(0));
            } else {
              gather_row(out, plane + iy * g.in_w, offset, g.stride.w, x0, x1, g.out_w);
            }
          }
        }
      }
    }
  }
}

// dx.col(first + s) = col2im of rows [s * P, (s + 1) * P) of cols, for s in [0, count): the
// columns of dx are overwritten (each image is zeroed, then every tap adds into it, in tap order).
// cols is scratch: entries that fall into the padding may be zeroed on the way. col2im below runs
// this, or the same sums gathered in registers (im2col_avx512.hpp), bit for bit.
template <class S>
void col2im_portable(S* cols, Index ld, Index first, Index count, const Window2d& g, Matrix<S>& dx) {
  const Index P = g.out_pixels();
  for (Index s = 0; s < count; ++s) {
    for (Index c = 0; c < g.channels; ++c) {
      S* plane = dx.col(first + s).data() + c * g.in_pixels();
      std::fill(plane, plane + g.in_pixels(), S(0));
      for (Index ky = 0; ky < g.kernel.h; ++ky) {
        for (Index kx = 0; kx < g.kernel.w; ++kx) {
          const Index offset = kx - g.padding.w;
          Index x0 = 0, x1 = 0;
          Window2d::inside(offset, g.stride.w, g.in_w, g.out_w, x0, x1);
          S* in = cols + ((c * g.kernel.h + ky) * g.kernel.w + kx) * ld + s * P;
          if (taps_contiguous(g)) {
            const ContiguousTap t = contiguous_tap(g, ky, kx);
            zero_wrapped(in, t, g.out_w);
            for (Index o = t.begin; o < t.end; ++o) plane[o + t.shift] += in[o];
            continue;
          }
          for (Index oy = 0; oy < g.out_h; ++oy, in += g.out_w) {
            const Index iy = oy * g.stride.h + ky - g.padding.h;
            if (iy >= 0 && iy < g.in_h) scatter_row(in, plane + iy * g.in_w, offset, g.stride.w, x0, x1);
          }
        }
      }
    }
  }
}

// Whether im2col and col2im of `count` samples take the AVX-512 loops for this window (float
// images, run-time check). Not for fewer than 3 planes in all: the masks then cost as much as the
// loads they save (a grey first layer, one sample at a time, measured 0.86-1.0x).
inline bool im2col_vectorized(const Window2d& g, Index count) {
#ifdef MLP_HAVE_AVX512F_CODE
  return taps_contiguous(g) && g.channels * count >= 3 && g.taps() <= kTapMaskMaxTaps &&
         g.in_pixels() < kTapMaskMaxPixels && g.out_pixels() < kTapMaskMaxPixels && cpu_has_avx512f();
#else
  (void)g;
  (void)count;
  return false;
#endif
}

template <class S>
void im2col(const Eigen::Ref<const Matrix<S>>& x, Index first, Index count, const Window2d& g, S* cols, Index ld) {
#ifdef MLP_HAVE_AVX512F_CODE
  if constexpr (std::is_same_v<S, float>) {
    if (im2col_vectorized(g, count)) return im2col_contiguous_avx512(x.data(), x.outerStride(), first, count, g, cols, ld);
  }
#endif
  im2col_portable(x, first, count, g, cols, ld);
}

template <class S>
void col2im(S* cols, Index ld, Index first, Index count, const Window2d& g, Matrix<S>& dx) {
#ifdef MLP_HAVE_AVX512F_CODE
  if constexpr (std::is_same_v<S, float>) {
    if (im2col_vectorized(g, count)) return col2im_contiguous_avx512(cols, ld, first, count, g, dx.data(), dx.rows());
  }
#endif
  col2im_portable(cols, ld, first, count, g, dx);
}

}  // namespace mlp::detail
