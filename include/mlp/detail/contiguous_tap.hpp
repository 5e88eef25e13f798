// A tap of a "same" convolution as one contiguous run of the image (im2col.hpp, im2col_avx512.hpp).
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/window2d.hpp"

#include <algorithm>

namespace mlp::detail {

// With stride 1 and an output as wide as the input ("same" padding along x, the usual 3 x 3
// with padding 1), output pixel o of a tap reads input pixel o + shift, shift = dy W + dx, for
// every row of the tap that lies inside the image: a whole tap is then ONE contiguous run, except
// for the -dx or dx columns at the left or right edge that wrap into the neighbouring row and
// must be zero. Much faster than row by row for small images (rows of 14 or 28 pixels).
struct ContiguousTap {
  Index begin = 0, end = 0;   // outputs [begin, end) copy input [begin + shift, end + shift)
  Index shift = 0;
  Index row0 = 0, row1 = 0;   // output rows inside the image
  Index dx = 0;               // column offset: |dx| edge columns per row are padding
};

inline bool taps_contiguous(const Window2d& g) { return g.stride.h == 1 && g.stride.w == 1 && g.out_w == g.in_w; }

inline ContiguousTap contiguous_tap(const Window2d& g, Index ky, Index kx) {
  ContiguousTap t;
  const Index dy = ky - g.padding.h;
  t.dx = kx - g.padding.w;
  t.shift = dy * g.in_w + t.dx;
  t.row0 = std::clamp<Index>(-dy, 0, g.out_h);
  t.row1 = std::clamp<Index>(g.in_h - dy, t.row0, g.out_h);
  // A tap may lie wholly in the padding (a padding as large as the image): begin is then P.
  t.begin = std::min(std::max(t.row0 * g.out_w, -t.shift), g.out_pixels());
  t.end = std::max(t.begin, std::min(t.row1 * g.out_w, g.in_pixels() - t.shift));
  return t;
}

}  // namespace mlp::detail
