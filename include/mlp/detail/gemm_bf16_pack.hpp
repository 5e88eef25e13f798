// Packing for the bf16 GEMM: a panel of an operand, rounded to bf16, in the layout vdpbf16ps reads.
//
// A panel has `width` entries (rows of A, or columns of B) and kc values of k. Source element
// (e, kk) is src[e * se + kk * sk]. The packed panel holds ceil(kc / 2) rows of `width` 32-bit words;
// row p, word e holds bf16(X(e, 2p)) in its low half and bf16(X(e, 2p + 1)) in its high half.
// Entries e >= count and the k beyond kc (when kc is odd) are packed as +0, so that padding adds
// exact zeros (0 * 0) and never turns into NaN.
//
// Two AVX-512 versions cover the two memory orders: entries contiguous (se == 1: A as stored, B
// transposed; a whole block of panels at once) and k contiguous (sk == 1: A transposed, B as
// stored; a 16 x 16 word transpose).
// Both give the same words as the portable version (vcvtne2ps2bf16 rounds like to_bf16).
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/bf16.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/gemm_operands.hpp"

#include <algorithm>
#include <cstdint>

#ifdef MLP_HAVE_AVX512BF16_CODE
#include <immintrin.h>
#endif

namespace mlp::detail {

inline void pack_panel_portable(const PanelSource& s, Index width, std::uint32_t* dst) {
  const Index kp = (s.kc + 1) / 2;
  for (Index p = 0; p < kp; ++p) {
    const bool has_odd = 2 * p + 1 < s.kc;
    for (Index e = 0; e < width; ++e) {
      const float* x = s.src + e * s.se + 2 * p * s.sk;
      const bool data = e < s.count;
      dst[p * width + e] = bf16_pair(data ? x[0] : 0.0f, data && has_odd ? x[s.sk] : 0.0f);
    }
  }
}

#ifdef MLP_HAVE_AVX512BF16_CODE
// bf16 of (lo[0..15], hi[0..15]) as 16 words: word i = (bf16(lo[i]), bf16(hi[i])).
MLP_AVX512BF16_TARGET inline __m512i interleave_bf16(__m512 lo, __m512 hi) {
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(order, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
}

// Entries contiguous (se == 1), a block of ceil(count / width) panels one after the other: per row
// p, columns 2p and 2p + 1 of the source are read once, contiguously, and spread over the panels
// (panel by panel, the reads would stride through memory a page apart).
MLP_AVX512BF16_TARGET inline void pack_block_avx512_entries(const PanelSource& s, Index width,
                                                            std::uint32_t* dst) {
  const Index kp = (s.kc + 1) / 2, panels = (s.count + width - 1) / width;
  for (Index p = 0; p < kp; ++p) {
    const float* x = s.src + 2 * p * s.sk;
    const bool has_odd = 2 * p + 1 < s.kc;
    if (2 * p + 8 < s.kc) {  // the hardware prefetchers do not keep up with these columns
      const float* ahead = x + 8 * s.sk;
      for (Index e = 0; e < s.count; e += 16) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead + e), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(ahead + s.sk + e), _MM_HINT_T0);
      }
    }
    for (Index q = 0; q < panels; ++q) {
      std::uint32_t* row = dst + q * kp * width + p * width;
      for (Index e0 = 0; e0 < width; e0 += 16) {
        const Index e = q * width + e0;
        const __mmask16 load = first_lanes(s.count - e);
        const __m512 lo = _mm512_maskz_loadu_ps(load, x + e);
        const __m512 hi = has_odd ? _mm512_maskz_loadu_ps(load, x + s.sk + e) : _mm512_setzero_ps();
        const __m512i words = interleave_bf16(lo, hi);
        if (width - e0 >= 16) {
          _mm512_storeu_si512(row + e0, words);
        } else {
          _mm512_mask_storeu_epi32(row + e0, first_lanes(width - e0), words);
        }
      }
    }
  }
}

// k contiguous (sk == 1): 32 values of k of one entry give 16 words of a column of the panel;
// 16 entries are transposed into 16 rows at once.
MLP_AVX512BF16_TARGET inline void pack_panel_avx512_k(const PanelSource& s, Index width,
                                                      std::uint32_t* dst) {
  const Index kp = (s.kc + 1) / 2;
  for (Index p0 = 0; p0 < kp; p0 += 16) {
    const Index rows = std::min<Index>(16, kp - p0);
    const __mmask16 lo_mask = first_lanes(s.kc - 2 * p0), hi_mask = first_lanes(s.kc - 2 * p0 - 16);
    for (Index e0 = 0; e0 < width; e0 += 16) {
      __m512i r[16];
      for (Index i = 0; i < 16; ++i) {
        if (e0 + i < s.count) {
          const float* x = s.src + (e0 + i) * s.se + 2 * p0;
          if (2 * p0 + 64 < s.kc) {  // two groups ahead
            _mm_prefetch(reinterpret_cast<const char*>(x + 64), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(x + 80), _MM_HINT_T0);
          }
          r[i] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi_mask, x + 16),
                                                               _mm512_maskz_loadu_ps(lo_mask, x)));
        } else {
          r[i] = _mm512_setzero_si512();
        }
      }
      transpose_16x16(r);
      const __mmask16 store = first_lanes(width - e0);
      for (Index q = 0; q < rows; ++q) _mm512_mask_storeu_epi32(dst + (p0 + q) * width + e0, store, r[q]);
    }
  }
}
#endif

}  // namespace mlp::detail
