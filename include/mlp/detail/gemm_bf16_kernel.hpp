// Micro-kernels of the bf16 GEMM: a tile of at most kMr x kNr elements of C from one packed panel
// of A (kMr words per row) and one of B (kNr words per row), over kp rows (pairs of k).
//
// Every element of C is one chain, whatever the blocking: acc = C (or +0), then for each pair of k
// in order, acc = vdpbf16ps-lane(acc, A pair, B pair) (dpbf16_lane in bf16.hpp), and C = acc. The
// fp32 accumulator goes to C and back between blocks of k without rounding, so the result does not
// depend on kc, on the tile or on the thread that computes it.
//
// AVX-512: 2 x 12 zmm accumulators (32 rows x 12 columns); per pair of k, two 64-byte loads of A,
// 12 broadcasts of B and 24 vdpbf16ps. A is the instruction's first source and B the second, as
// dpbf16_lane assumes (it decides which NaN comes out).
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/bf16.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/gemm_operands.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#ifdef MLP_HAVE_AVX512BF16_CODE
#include <immintrin.h>
#endif

namespace mlp::detail {

inline constexpr Index kMr = 32;  // rows of a tile (two zmm of fp32)
inline constexpr Index kNr = 12;  // columns of a tile

// acc[i] = dp_fma(acc[i], a[i], b) for i < m, given that no a[i], b or acc[i] is denormal (packing
// flushes the inputs, and vdpbf16ps never returns a denormal): the fused multiply-add and the flush
// are written so that compilers can vectorize them, and the rare lanes that need dp_fma's care (a
// NaN, or a result of exactly 2^-126) are redone by it.
inline void dp_fma_column(float* acc, const float* a, float b, Index m) {
  float r[kMr];
  int rare = 0;
  for (Index i = 0; i < m; ++i) {
    const float x = std::fma(a[i], b, acc[i]);
    const float mag = std::fabs(x);
    r[i] = mag < 0x1p-126f ? std::copysign(0.0f, x) : x;
    rare |= static_cast<int>(mag != mag) | static_cast<int>(mag == 0x1p-126f);
  }
  if (rare) {
    for (Index i = 0; i < m; ++i) {
      if (std::isnan(r[i]) || std::fabs(r[i]) == 0x1p-126f) r[i] = dp_fma(acc[i], a[i], b);
    }
  }
  for (Index i = 0; i < m; ++i) acc[i] = r[i];
}

// One tile for the portable path: C[0:m, 0:n] (column-major, ldc) from the packed panels; the sums
// start from C (load_c), else from `rows` (m values, the same in every column), else from +0, and
// are finished as `finish` says (at the tile's element (0, 0); none without).
inline void tile_portable(Index kp, const std::uint32_t* a, const std::uint32_t* b, float* c, Index ldc,
                          Index m, Index n, bool load_c, const float* rows, const GemmFinish<float>* finish) {
  float acc[kNr][kMr], odd[kMr], even[kMr];
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < m; ++i)
      acc[j][i] = load_c ? denormal_as_zero(c[i + j * ldc]) : rows != nullptr ? denormal_as_zero(rows[i]) : 0.0f;
  for (Index p = 0; p < kp; ++p) {
    for (Index i = 0; i < m; ++i) {
      odd[i] = from_bf16(static_cast<std::uint16_t>(a[p * kMr + i] >> 16));
      even[i] = from_bf16(static_cast<std::uint16_t>(a[p * kMr + i] & 0xFFFFu));
    }
    for (Index j = 0; j < n; ++j) {
      const std::uint32_t bj = b[p * kNr + j];
      dp_fma_column(acc[j], odd, from_bf16(static_cast<std::uint16_t>(bj >> 16)), m);
      dp_fma_column(acc[j], even, from_bf16(static_cast<std::uint16_t>(bj & 0xFFFFu)), m);
    }
  }
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < m; ++i) c[i + j * ldc] = finish != nullptr ? (*finish)(acc[j][i], i, j) : acc[j][i];
}

#ifdef MLP_HAVE_AVX512BF16_CODE
// MV zmm of rows (16 or 32 rows; `m` of them valid) by N columns.
template <int MV, int N>
MLP_AVX512BF16_TARGET void tile_avx512(Index kp, const std::uint32_t* a, const std::uint32_t* b, float* c,
                                       Index ldc, Index m, bool load_c, const float* rows,
                                       const GemmFinish<float>* finish) {
  __m512 acc[MV][N];
  load_c_tile(acc, c, ldc, m, load_c, rows);
  prefetch_finish<MV, N>(finish);
  for (Index p = 0; p < kp; ++p) {
    const std::uint32_t* ap = a + p * kMr;
    const std::uint32_t* bp = b + p * kNr;
    __m512bh av[MV];
    for (int v = 0; v < MV; ++v) av[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(ap + Index{16} * v));
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j) {
      const __m512bh bj = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(bp[j])));
      for (int v = 0; v < MV; ++v) acc[v][j] = _mm512_dpbf16_ps(acc[v][j], av[v], bj);
    }
  }
  finish_c_tile(acc, finish, m);
  store_c_tile(acc, c, ldc, m);
}

using TileFn = void (*)(Index, const std::uint32_t*, const std::uint32_t*, float*, Index, Index, bool, const float*,
                        const GemmFinish<float>*);

template <int MV, int... N>
constexpr std::array<TileFn, sizeof...(N)> tile_table(std::integer_sequence<int, N...>) {
  return {&tile_avx512<MV, N + 1>...};
}

// One tile for the AVX-512 path: C[0:m, 0:n], m <= kMr, n <= kNr.
inline void tile_avx512_any(Index kp, const std::uint32_t* a, const std::uint32_t* b, float* c, Index ldc,
                            Index m, Index n, bool load_c, const float* rows, const GemmFinish<float>* finish) {
  static constexpr auto one = tile_table<1>(std::make_integer_sequence<int, kNr>{});
  static constexpr auto two = tile_table<2>(std::make_integer_sequence<int, kNr>{});
  (m > 16 ? two : one)[static_cast<std::size_t>(n - 1)](kp, a, b, c, ldc, m, load_c, rows, finish);
}
#endif

}  // namespace mlp::detail
