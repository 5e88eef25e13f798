// A 16 x 16 transpose of 32-bit words in 16 zmm registers (AVX512F), for the GEMMs' packing of an
// operand whose k values are contiguous (gemm_bf16_pack.hpp, gemm_f32_kernel.hpp).
#pragma once

#include "mlp/detail/cpu_features.hpp"

#ifdef MLP_HAVE_AVX512F_CODE
#include <immintrin.h>

namespace mlp::detail {

// In place: r[i] word j  <-  r[j] word i. (The zero-masking forms with every lane selected are the
// plain instructions; GCC 12 warns about the undefined source vector of the plain intrinsics.)
MLP_AVX512F_TARGET inline void transpose_16x16(__m512i r[16]) {
  constexpr __mmask16 kAll16 = 0xFFFF;
  constexpr __mmask8 kAll8 = 0xFF;
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_epi32(kAll16, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_epi32(kAll16, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // r[i + c]: in 128-bit lane L, column 4 L + c of rows i..i+3
    r[i] = _mm512_maskz_unpacklo_epi64(kAll8, t[i], t[i + 2]);
    r[i + 1] = _mm512_maskz_unpackhi_epi64(kAll8, t[i], t[i + 2]);
    r[i + 2] = _mm512_maskz_unpacklo_epi64(kAll8, t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_maskz_unpackhi_epi64(kAll8, t[i + 1], t[i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm512_maskz_shuffle_i32x4(kAll16, r[c], r[4 + c], 0x88);       // lanes 0, 2 of each
    t[4 + c] = _mm512_maskz_shuffle_i32x4(kAll16, r[c], r[4 + c], 0xDD);   // lanes 1, 3
    t[8 + c] = _mm512_maskz_shuffle_i32x4(kAll16, r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_maskz_shuffle_i32x4(kAll16, r[8 + c], r[12 + c], 0xDD);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_maskz_shuffle_i32x4(kAll16, t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_maskz_shuffle_i32x4(kAll16, t[c], t[8 + c], 0xDD);
    r[4 + c] = _mm512_maskz_shuffle_i32x4(kAll16, t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_maskz_shuffle_i32x4(kAll16, t[4 + c], t[12 + c], 0xDD);
  }
}

}  // namespace mlp::detail
#endif
