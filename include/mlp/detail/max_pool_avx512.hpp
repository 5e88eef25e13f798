// MaxPool2d's usual 2 x 2 pool of stride 2 (no padding, even H and W) for float images on a CPU with
// AVX512F, in one pass: MaxPool2d runs it there instead of the two passes of max_pool_2x2
// (max_pool_kernels.hpp), and it gives exactly their y and argmax.
//
// Why: the two passes write the winners of the pairs across (half the input, with their indices)
// and read them back for the pass down; here each 16 outputs of a window row are decided in
// registers from the two input rows and stored once. The rows of 14 and 28 pixels of the study's
// CNN are one or two masked loads each.
//
// The same decisions as the two passes: for the pair across (a, b) of each input row, b wins when
// it is larger or NaN (later_beats), index 2 ox + (b won); then the bottom row's winner wins over
// the top row's when it is larger or NaN. A mask blend copies the winner's bits, as select_bits
// does, so -0, +0 and NaN payloads come through unchanged.
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/cpu_features.hpp"

#include <algorithm>
#include <cstdint>

#ifdef MLP_HAVE_AVX512F_CODE
#include <immintrin.h>

namespace mlp::detail {

// Lanes where b beats a that it follows in the window (later_beats: larger, or NaN).
MLP_AVX512F_TARGET inline __mmask16 later_beats_lanes(__m512 b, __m512 a) {
  return static_cast<__mmask16>(_mm512_cmp_ps_mask(b, a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q));
}

// 0, 2, 4, ..., 30: lane i's pair of pixels starts at 2 i.
MLP_AVX512F_TARGET inline __m512i pair_starts() {
  return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}

// The winners of the pairs across 16 outputs of one input row: `row` points at the pair of output 0,
// `lo_lanes` and `hi_lanes` select the valid floats of its first and second 16 (first_lanes(2 pairs)
// and first_lanes(2 pairs - 16) for `pairs` <= 16 valid outputs). Returns the winners; `second` gets the
// lanes where the right pixel of the pair won.
MLP_AVX512F_TARGET inline __m512 pair_winners(const float* row, __mmask16 lo_lanes, __mmask16 hi_lanes,
                                              __mmask16& second) {
  const __m512i evens = pair_starts(), odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  const __m512 lo = _mm512_maskz_loadu_ps(lo_lanes, row);
  const __m512 hi = _mm512_maskz_loadu_ps(hi_lanes, row + 16);
  const __m512 left = _mm512_permutex2var_ps(lo, evens, hi);
  const __m512 right = _mm512_permutex2var_ps(lo, odds, hi);
  second = later_beats_lanes(right, left);
  return _mm512_mask_blend_ps(second, left, right);
}

// How many window rows ahead max_pool_2x2_avx512 prefetches its input.
constexpr Index kPoolPrefetchRows = 4;

// One sample of `planes` channels of H x W (both even): y and arg (indices into x, plus `base`) as
// max_pool_2x2 gives them. Window row b of the sample (b < planes H / 2) reads input rows 2 b and
// 2 b + 1, which are consecutive over the channels; its outputs are cut into groups of 16, the
// last one shorter, whose masks are computed once. A group's outputs are stored whole (16
// floats and indices) while that stays inside the sample's output: the lanes past a short group
// are written over by the groups after it, which this loop stores later (masked stores are slow on
// AMD's CPUs, as avx512_tiles.hpp notes).
MLP_AVX512F_TARGET inline void max_pool_2x2_avx512(const float* x, Index planes, Index H, Index W, float* y,
                                                   std::int32_t* arg, std::int32_t base = 0) {
  const Index OW = W / 2, blocks = planes * H / 2, outputs = blocks * OW;
  const Index last_group = (OW - 1) / 16 * 16, last_count = OW - last_group;
  const __mmask16 last_lo = first_lanes(2 * last_count), last_hi = first_lanes(2 * last_count - 16);
  const __mmask16 last_store = first_lanes(last_count), all = first_lanes(16);
  const __m512i twice = pair_starts(), one = _mm512_set1_epi32(1);
  for (Index b = 0; b < blocks; ++b) {
    const float* top = x + 2 * b * W;
    // The input rows of a window row a few ahead (within the sample), asked for now: on the Zen 5
    // this loop took 2.5 times as long without (the hardware's prefetch kept the core waiting).
    const float* ahead = x + 2 * std::min(b + kPoolPrefetchRows, blocks - 1) * W;
    for (Index line = 0; line < 2 * W; line += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
    }
    for (Index ox = 0; ox < OW; ox += 16) {
      const bool last = ox == last_group;
      const __mmask16 lo_lanes = last ? last_lo : all, hi_lanes = last ? last_hi : all;
      __mmask16 top_second, bottom_second;
      const __m512 t = pair_winners(top + 2 * ox, lo_lanes, hi_lanes, top_second);
      const __m512 d = pair_winners(top + W + 2 * ox, lo_lanes, hi_lanes, bottom_second);
      // Input indices of the top-left pixels of these windows, then of each row's winner.
      const __m512i left = _mm512_add_epi32(_mm512_set1_epi32(base + static_cast<int>(2 * b * W + 2 * ox)), twice);
      const __m512i ti = _mm512_mask_add_epi32(left, top_second, left, one);
      const __m512i below = _mm512_add_epi32(left, _mm512_set1_epi32(static_cast<int>(W)));
      const __m512i di = _mm512_mask_add_epi32(below, bottom_second, below, one);
      const __mmask16 down = later_beats_lanes(d, t);
      const __m512 winner = _mm512_mask_blend_ps(down, t, d);
      const __m512i at = _mm512_mask_blend_epi32(down, ti, di);
      const Index o = b * OW + ox;
      if (o + 16 <= outputs) {
        _mm512_storeu_ps(y + o, winner);
        _mm512_storeu_si512(arg + o, at);
      } else {
        const __mmask16 store = last ? last_store : all;
        _mm512_mask_storeu_ps(y + o, store, winner);
        _mm512_mask_storeu_epi32(arg + o, store, at);
      }
    }
  }
}

// 16 floats of dx from `at` on, of which the first `valid` belong to this window row (none: no
// store). A store may run past them while everything it passes is stored again later
// (`overwritten`) and it stays inside the `total` values of dx.
MLP_AVX512F_TARGET inline void put_gradient(float* dx, Index at, Index valid, Index total, bool overwritten,
                                            __m512 v) {
  if (valid <= 0) return;
  if (valid >= 16 || (overwritten && at + 16 <= total)) {
    _mm512_storeu_ps(dx + at, v);
  } else {
    _mm512_mask_storeu_ps(dx + at, first_lanes(valid), v);
  }
}

// Backward of the 2 x 2 pool for `planes` channels of H x W (both even), as max_pool_2x2_backward
// (max_pool_kernels.hpp) computes it, with the same bits: each window's 4 pixels get
// (Masked: y > 0 ? g : 0) + 0 at its maximum (arg, an index into dx) and +0 elsewhere.
// A group of 16 outputs of a window row is loaded once and each value spread over the two
// pixels below it in a register (a permute), 4 stores of 16 pixels per group. When a window row
// is one group (W <= 32, the study's CNN), the stores of its last lanes run on into pixels that
// later stores of this loop write (the bottom row, then the next window row), as the pool's
// forward does; otherwise the last group of a row stores under a mask.
template <bool Masked>
MLP_AVX512F_TARGET inline void max_pool_2x2_backward_avx512(const float* g, const float* y, const std::int32_t* arg,
                                                            Index planes, Index H, Index W, float* dx) {
  const Index OW = W / 2, blocks = planes * H / 2, total = planes * H * W;
  const Index last_group = (OW - 1) / 16 * 16, last_count = OW - last_group;
  const bool one_group = OW <= 16;
  const __mmask16 last_in = first_lanes(last_count), all = first_lanes(16);
  const __m512i lower = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i upper = _mm512_add_epi32(lower, _mm512_set1_epi32(8));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16), row = _mm512_set1_epi32(static_cast<int>(W));
  const __m512 zero = _mm512_setzero_ps();
  for (Index b = 0; b < blocks; ++b) {
    // The inputs of the window row 16 ahead (within the range), as max_pool_2x2_backward_rows asks.
    const Index ahead = std::min(b + 16, blocks - 1) * OW;
    _mm_prefetch(reinterpret_cast<const char*>(g + ahead), _MM_HINT_T0);
    if (Masked) _mm_prefetch(reinterpret_cast<const char*>(y + ahead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(arg + ahead), _MM_HINT_T0);
    for (Index ox = 0; ox < OW; ox += 16) {
      const bool last = ox == last_group;
      const Index n = last ? last_count : 16, o = b * OW + ox;
      const __mmask16 in = last ? last_in : all;
      __m512 v = _mm512_maskz_loadu_ps(in, g + o);
      if (Masked) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(in, y + o), zero, _CMP_GT_OQ), v);
      v = _mm512_add_ps(v, zero);
      const __m512i a = _mm512_maskz_loadu_epi32(in, arg + o);
      // (The maskz forms: the plain ones start from an undefined register, which GCC warns about.)
      const __m512 v_lo = _mm512_maskz_permutexvar_ps(all, lower, v), v_hi = _mm512_maskz_permutexvar_ps(all, upper, v);
      const __m512i a_lo = _mm512_maskz_permutexvar_epi32(all, lower, a);
      const __m512i a_hi = _mm512_maskz_permutexvar_epi32(all, upper, a);
      const Index at = 2 * b * W + 2 * ox;  // the window's top-left pixel in dx
      const __m512i top_lo = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(at)), iota);
      const __m512i top_hi = _mm512_add_epi32(top_lo, sixteen);
      const __m512i bottom_lo = _mm512_add_epi32(top_lo, row), bottom_hi = _mm512_add_epi32(top_hi, row);
      const bool overwritten = one_group;  // see the top of the function
      put_gradient(dx, at, 2 * n, total, overwritten,
                   _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a_lo, top_lo), v_lo));
      put_gradient(dx, at + 16, 2 * n - 16, total, overwritten,
                   _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a_hi, top_hi), v_hi));
      put_gradient(dx, at + W, 2 * n, total, overwritten,
                   _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a_lo, bottom_lo), v_lo));
      put_gradient(dx, at + W + 16, 2 * n - 16, total, overwritten,
                   _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a_hi, bottom_hi), v_hi));
    }
  }
}

}  // namespace mlp::detail
#endif
