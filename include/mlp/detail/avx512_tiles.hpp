// AVX512F pieces shared by the two GEMMs (gemm_bf16_kernel.hpp, gemm_bf16_pack.hpp,
// gemm_f32_kernel.hpp): lane masks, a tile of C loaded into and stored from fp32 accumulators, and
// a 16 x 16 transpose of 32-bit words for packing an operand whose k values are contiguous. They
// are marked MLP_AVX512F_TARGET, a subset of the bf16 code's target, so they inline into both.
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/gemm_operands.hpp"

#include <algorithm>

#ifdef MLP_HAVE_AVX512F_CODE
#include <immintrin.h>

namespace mlp::detail {

// The first n lanes of 16 (none for n <= 0).
MLP_AVX512F_TARGET inline __mmask16 first_lanes(Index n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << std::max<Index>(n, 0)) - 1u);
}

// A tile of C: MV zmm of rows (16 or 32 rows, `m` of them valid) by N columns, column-major with
// column stride ldc. Whole tiles use plain loads and stores (masked stores are slower on AMD).
// The accumulators start from C (load_c), else from the tile's rows of `rows` in every column
// (a bias), else from +0.
template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void load_c_tile(__m512 (&acc)[MV][N], const float* c,
                                                                         Index ldc, Index m, bool load_c,
                                                                         const float* rows) {
  const bool full = m == Index{16} * MV;
  if (!load_c && rows != nullptr) {
    for (int v = 0; v < MV; ++v) {
      const __m512 r = full ? _mm512_loadu_ps(rows + Index{16} * v)
                            : _mm512_maskz_loadu_ps(first_lanes(m - Index{16} * v), rows + Index{16} * v);
#pragma GCC unroll 12
      for (int j = 0; j < N; ++j) acc[v][j] = r;
    }
    return;
  }
#pragma GCC unroll 12
  for (int j = 0; j < N; ++j) {
    for (int v = 0; v < MV; ++v) {
      const float* cv = c + j * ldc + Index{16} * v;
      acc[v][j] = !load_c ? _mm512_setzero_ps()
                  : full  ? _mm512_loadu_ps(cv)
                          : _mm512_maskz_loadu_ps(first_lanes(m - Index{16} * v), cv);
    }
  }
}

// The finished tile (GemmFinish, its mask at the tile's element (0, 0); none without): a ReLU as
// vmaxps(0, c), which returns c when either is a NaN or both are zeros, as std::max(c, 0); the mask
// as the compare mask > 0 (false for a NaN) selecting c or +0. (A pointer: a GemmFinish passed by
// value goes through memory, and reading it back stalled every tile.)
template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void finish_c_tile(__m512 (&acc)[MV][N],
                                                                           const GemmFinish<float>* finish_or_none,
                                                                           Index m) {
  using Kind = GemmFinish<float>::Kind;
  if (finish_or_none == nullptr) return;
  const GemmFinish<float>& finish = *finish_or_none;
  const __m512 zero = _mm512_setzero_ps();
  constexpr __mmask16 kAll = 0xFFFF;  // the zero-masking form: GCC 12 warns about the plain one's undefined source
  if (finish.kind == Kind::Relu) {
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j)
      for (int v = 0; v < MV; ++v) acc[v][j] = _mm512_maskz_max_ps(kAll, zero, acc[v][j]);
  } else if (finish.kind == Kind::ReluMask) {
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j) {
      for (int v = 0; v < MV; ++v) {
        const __m512 mv = _mm512_maskz_loadu_ps(first_lanes(m - Index{16} * v), finish.mask + j * finish.ld_mask + Index{16} * v);
        acc[v][j] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(mv, zero, _CMP_GT_OQ), acc[v][j]);
      }
    }
  }
}

// The mask's lines of a tile, asked for before its sums: loaded only at the end, they would come
// from memory one tile at a time while the FMAs wait.
template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void prefetch_finish(const GemmFinish<float>* finish) {
  if (finish == nullptr || finish->kind != GemmFinish<float>::Kind::ReluMask) return;
#pragma GCC unroll 12
  for (int j = 0; j < N; ++j)
    for (int v = 0; v < MV; ++v)
      _mm_prefetch(reinterpret_cast<const char*>(finish->mask + j * finish->ld_mask + Index{16} * v), _MM_HINT_T0);
}

template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void store_c_tile(const __m512 (&acc)[MV][N], float* c,
                                                                          Index ldc, Index m) {
  if (m == Index{16} * MV) {
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j)
      for (int v = 0; v < MV; ++v) _mm512_storeu_ps(c + j * ldc + Index{16} * v, acc[v][j]);
  } else {
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j)
      for (int v = 0; v < MV; ++v) _mm512_mask_storeu_ps(c + j * ldc + Index{16} * v, first_lanes(m - Index{16} * v), acc[v][j]);
  }
}

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
