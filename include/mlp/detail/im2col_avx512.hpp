// im2col and col2im for float images on a CPU with AVX512F, for the "same" convolutions whose taps
// are contiguous runs (taps_contiguous: stride 1, output as wide as the input, e.g. 3 x 3 with
// padding 1). im2col.hpp runs them there; they give exactly the bits of its portable loops.
//
// Why: the portable loops copy each tap of each sample as a run (a library call) and then zero
// the |dx| wrapped edge columns one row at a time; on 14 x 14 images that is 14 tiny fills per
// run, and col2im adds a tap at a time into the image (a load, an add and a store per tap and
// pixel). Here each 16 pixels of a tap are ONE masked load: the mask says which of them lie inside
// the image (padding reads as +0), computed once per call for every tap and block of pixels.
// col2im gathers: each 16 input pixels sum their taps in a register, in the portable order (tap
// by tap, from +0), and are stored once. A tap whose pixel lies in the padding adds +0 here and
// nothing there; an accumulator that starts at +0 is never -0 in round-to-nearest, so adding +0
// changes no bit (tests/test_im2col.cpp compares both paths bit for bit).
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/contiguous_tap.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/window2d.hpp"

#include <algorithm>
#include <cstdint>

#ifdef MLP_HAVE_AVX512F_CODE
#include <immintrin.h>

namespace mlp::detail {

// Masks one call keeps (8 KiB on the stack): taps x vectors of 16 pixels per block of pixels. A
// kernel with more than kTapMaskMaxTaps taps (16 x 16), or an image of 2^30 pixels or more (the
// lanes' pixel numbers are 32-bit), takes the portable loops.
inline constexpr Index kTapMaskCapacity = 4096;
inline constexpr Index kTapMaskMaxTaps = 256;
inline constexpr Index kTapMaskMaxPixels = Index{1} << 30;

// masks[v]: the lanes of the 16 outputs o0 + 16 v .. o0 + 16 v + 15 (v < vectors) that read inside
// the image for tap t of an image `width` pixels wide: inside [begin, end) and not in one of the
// |dx| edge columns that wrap into the neighbouring row. o0 may be negative (col2im asks for the
// outputs that would read a pixel near the top).
MLP_AVX512F_TARGET inline void tap_masks(const ContiguousTap& t, Index width, Index o0, Index vectors,
                                         __mmask16* masks) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i w = _mm512_set1_epi32(static_cast<int>(width));
  const __m512i begin = _mm512_set1_epi32(static_cast<int>(t.begin)), end = _mm512_set1_epi32(static_cast<int>(t.end));
  const __m512i lo = _mm512_set1_epi32(static_cast<int>(t.dx < 0 ? -t.dx : 0));
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(t.dx > 0 ? width - t.dx : width));
  const __m512i step = _mm512_set1_epi32(16), column_step = _mm512_set1_epi32(static_cast<int>(16 % width));
  __m512i o = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(o0)), iota);
  const Index first_column = (o0 % width + width) % width;
  __m512i column = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first_column)), iota);
  for (__mmask16 over = _mm512_cmpge_epi32_mask(column, w); over != 0; over = _mm512_cmpge_epi32_mask(column, w)) {
    column = _mm512_mask_sub_epi32(column, over, column, w);
  }
  for (Index v = 0; v < vectors; ++v) {
    masks[v] = static_cast<__mmask16>(_mm512_cmpge_epi32_mask(o, begin) & _mm512_cmplt_epi32_mask(o, end) &
                                      _mm512_cmpge_epi32_mask(column, lo) & _mm512_cmplt_epi32_mask(column, hi));
    o = _mm512_add_epi32(o, step);
    column = _mm512_add_epi32(column, column_step);
    column = _mm512_mask_sub_epi32(column, _mm512_cmpge_epi32_mask(column, w), column, w);
  }
}

// p + offset floats, as an address only: the masked loads below never touch the lanes whose
// address would lie outside the image (before its first pixel, or past its last).
inline const float* shifted(const float* p, Index offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(p) +  // NOLINT
                                        static_cast<std::uintptr_t>(offset * static_cast<Index>(sizeof(float))));
}

// Every tap's masks for one block of pixels, and every tap's shift: what both loops below prepare
// before they move any data. A block holds at most `block` vectors of 16 pixels, so that every
// tap's masks for it fit kTapMaskCapacity.
struct TapMaskBlock {
  Index taps, block;
  Index shifts[kTapMaskMaxTaps];
  __mmask16 masks[kTapMaskCapacity];

  explicit TapMaskBlock(const Window2d& g) : taps(g.taps()), block(std::max<Index>(1, kTapMaskCapacity / g.taps())) {
    for (Index t = 0; t < taps; ++t) shifts[t] = contiguous_tap(g, t / g.kernel.w, t % g.kernel.w).shift;
  }
  // The masks of `vectors` vectors from pixel p0: of the outputs p0.. (im2col), or with
  // by_input of the outputs that read the input pixels p0.., i.e. p0 - shift.. (col2im).
  MLP_AVX512F_TARGET void fill(const Window2d& g, Index p0, Index vectors, bool by_input) {
    for (Index t = 0; t < taps; ++t) {
      tap_masks(contiguous_tap(g, t / g.kernel.w, t % g.kernel.w), g.out_w, by_input ? p0 - shifts[t] : p0,
                vectors, masks + t * block);
    }
  }
  const __mmask16* of(Index t) const { return masks + t * block; }
};

// out[0..16) = value, only the first `left` lanes when fewer than 16 pixels are left.
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void store_pixels(float* out, Index left, __m512 value) {
  if (left >= 16) {
    _mm512_storeu_ps(out, value);
  } else {
    _mm512_mask_storeu_ps(out, first_lanes(left), value);
  }
}

// im2col.hpp's im2col for contiguous taps: column (c kh + ky) kw + kx of cols, rows s P .. s P + P - 1
// for sample first + s. A channel at a time, so that its pixels stay in L1 over its taps.
MLP_AVX512F_TARGET inline void im2col_contiguous_avx512(const float* x, Index ldx, Index first, Index count,
                                                        const Window2d& g, float* cols, Index ld) {
  const Index P = g.out_pixels(), HW = g.in_pixels(), taps = g.taps();
  TapMaskBlock m(g);
  for (Index o0 = 0; o0 < P; o0 += 16 * m.block) {
    const Index vectors = std::min(m.block, (P - o0 + 15) / 16);
    m.fill(g, o0, vectors, false);
    for (Index c = 0; c < g.channels; ++c) {
      for (Index t = 0; t < taps; ++t) {
        const __mmask16* tap_mask = m.of(t);
        for (Index s = 0; s < count; ++s) {
          const float* source = x + (first + s) * ldx + c * HW + m.shifts[t];
          float* out = cols + (c * taps + t) * ld + s * P;
          for (Index v = 0; v < vectors; ++v) {
            const Index o = o0 + 16 * v;
            store_pixels(out + o, P - o, _mm512_maskz_loadu_ps(tap_mask[v], shifted(source, o)));
          }
        }
      }
    }
  }
}

// im2col.hpp's col2im for contiguous taps: pixel q of channel c of sample first + s is the sum over
// the taps (in tap order, from +0) of cols(s P + q - shift, tap) for the taps whose output q - shift
// reads q.
MLP_AVX512F_TARGET inline void col2im_contiguous_avx512(const float* cols, Index ld, Index first, Index count,
                                                        const Window2d& g, float* dx, Index lddx) {
  const Index P = g.out_pixels(), HW = g.in_pixels(), taps = g.taps();
  TapMaskBlock m(g);
  for (Index q0 = 0; q0 < HW; q0 += 16 * m.block) {
    const Index vectors = std::min(m.block, (HW - q0 + 15) / 16);
    m.fill(g, q0, vectors, true);
    for (Index s = 0; s < count; ++s) {
      for (Index c = 0; c < g.channels; ++c) {
        float* plane = dx + (first + s) * lddx + c * HW;
        const float* channel_cols = cols + c * taps * ld + s * P;
        for (Index v = 0; v < vectors; ++v) {
          const Index q = q0 + 16 * v;
          __m512 sum = _mm512_setzero_ps();
          for (Index t = 0; t < taps; ++t) {
            const __mmask16 lanes = m.of(t)[v];
            if (lanes == 0) continue;  // would add +0 in every lane, which changes nothing
            sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(lanes, shifted(channel_cols + t * ld, q - m.shifts[t])));
          }
          store_pixels(plane + q, HW - q, sum);
        }
      }
    }
  }
}

}  // namespace mlp::detail
#endif
