// The fp32 GEMM for CPUs with AVX-512 (detail::gemm runs it for float products there; Eigen's kernel
// runs elsewhere, and for double):
//
//     C = op(A) op(B)   or   C += op(A) op(B),     op(X) = X or X^T,   all column-major float.
//
// Every element of C is one chain of fused multiply-adds in the order of k:
//
//     acc = C (accumulate) or +0;   for p = 0 .. k-1: acc = fma(op(A)(i, p), op(B)(p, j), acc);   C = acc
//
// The fp32 accumulator goes to C and back between blocks of k without rounding, so the bits depend
// neither on the blocking, nor on how C is split between threads, nor on the thread count; a plain
// std::fma loop over k gives them too (tests/test_gemm.cpp compares bit for bit).
//
// Why not Eigen's kernel (a 48 x 4 register block on AVX-512): this one, a 32 x 12 block (24 zmm
// accumulators; per value of k, 2 loads of A, 12 broadcasts of B and 24 FMAs) with its own packing and
// blocking, measured faster on an Intel Xeon: L's products 1.28x together on one thread and 1.42x on
// two, the CNN's 1.07-1.17x, M's largest within noise of Eigen's on one thread (docs/performance.md,
// "The tenth round"). And its bits need no argument about Eigen's blocking to be the same at any
// thread count.
//
// Blocking as usual (Goto): a kc-deep block of B (kc x nc) is packed once and swept by blocks of A
// (mc x kc, in L2); a micro-panel of B (kc x 12, in L1) is reused down the whole block of A. B as
// stored (k down its columns) is read where it is, by columns, instead (b_panels_for).
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/gemm_operands.hpp"

#include <algorithm>
#include <array>
#include <utility>

#ifdef MLP_HAVE_AVX512F_CODE
#include <immintrin.h>
#endif

namespace mlp::detail {

inline constexpr Index kF32Mr = 32;  // rows of a tile (two zmm)
inline constexpr Index kF32Nr = 12;  // columns of a tile

// x rounded up to a multiple of unit (whole tiles, whole vectors).
inline constexpr Index round_up(Index x, Index unit) { return (x + unit - 1) / unit * unit; }

struct F32Blocking {
  Index kc = 320;   // most values of k per block; k is cut into equal blocks (288 stays whole)
  Index mc = 256;   // rows of A per packed block (a multiple of kF32Mr)
  Index nc = 1536;  // columns of B per packed block (a multiple of kF32Nr)

  Index kc_for(Index k) const {
    if (k <= 0) return 0;
    const Index blocks = (k + kc - 1) / kc;
    return (k + blocks - 1) / blocks;
  }
  // Floats of packing buffer one thread needs for a block of rows x cols of C.
  Index a_floats(Index rows, Index k) const { return std::min(mc, round_up(rows, kF32Mr)) * kc_for(k); }
  Index b_floats(Index cols, Index k) const { return std::min(nc, round_up(cols, kF32Nr)) * kc_for(k); }
};

#ifdef MLP_HAVE_AVX512F_CODE
// Packing: ceil(count / width) panels one after the other, each kc rows of `width` floats; row p of
// panel q holds X(q width + e, p) for e < width, +0 beyond count (padding only ever meets rows or
// columns of C that are not stored).

// Entries contiguous, panel by panel: each panel's kc rows written in order, its entries read down
// the source's values of k (see pack_f32_entries).
MLP_AVX512F_TARGET inline void pack_f32_entries_by_panel(const PanelSource& s, Index width, float* dst) {
  const Index panels = (s.count + width - 1) / width;
  for (Index q = 0; q < panels; ++q) {
    float* panel = dst + q * s.kc * width;
    for (Index e0 = 0; e0 < width; e0 += 16) {
      const Index e = q * width + e0;
      const __mmask16 load = first_lanes(s.count - e), store = first_lanes(width - e0);
      // The lines of a later panel: going down a stride of sk, the hardware prefetchers do not ask
      // for them (14 instead of 16 us for M's first dL/dW, its source out of L2).
      const bool ahead = e0 == 0 && e + 64 < s.count;
      for (Index p = 0; p < s.kc; ++p) {
        const float* x = s.src + p * s.sk + e;
        if (ahead) _mm_prefetch(reinterpret_cast<const char*>(x + 64), _MM_HINT_T0);
        const __m512 v = _mm512_maskz_loadu_ps(load, x);
        if (width - e0 >= 16) {
          _mm512_storeu_ps(panel + p * width + e0, v);
        } else {
          _mm512_mask_storeu_ps(panel + p * width + e0, store, v);
        }
      }
    }
  }
}

// Panels up to which pack_f32_entries spreads each value of k over all of them.
inline constexpr Index kF32SpreadPanels = 8;

// Entries contiguous (se == 1: A as stored, B transposed). Into at most kF32SpreadPanels panels (A's
// in gemm_f32_block: mc / kF32Mr = 8), each value of k is read once, contiguously, and spread over
// the panels. Into more (B's, 12 entries wide: 66 for the 784 columns of M's first dL/dW; the 25
// panels of a Conv2d chunk's dz in conv_input_grad_avx512), the rows spread over them would be
// stored kc x width floats apart, all in a few of L1's sets, evicting each other: that packing took
// 56 us of M's 0.8 ms step at 1 thread, panel by panel 10-16 us (L's and the CNN's dL/dW 74 -> 30
// and 109 -> 31 us with their sources out of L2; the CNN's dz of 4 samples 15 -> 3.4 us in L2).
// A copy either way: the same bits.
MLP_AVX512F_TARGET inline void pack_f32_entries(const PanelSource& s, Index width, float* dst) {
  const Index panels = (s.count + width - 1) / width;
  if (panels > kF32SpreadPanels) {
    pack_f32_entries_by_panel(s, width, dst);
    return;
  }
  for (Index p = 0; p < s.kc; ++p) {
    const float* x = s.src + p * s.sk;
    if (p + 8 < s.kc) {  // the hardware prefetchers do not keep up with these columns
      for (Index e = 0; e < s.count; e += 16) _mm_prefetch(reinterpret_cast<const char*>(x + 8 * s.sk + e), _MM_HINT_T0);
    }
    for (Index q = 0; q < panels; ++q) {
      float* row = dst + (q * s.kc + p) * width;
      for (Index e0 = 0; e0 < width; e0 += 16) {
        const Index e = q * width + e0;
        const __m512 v = _mm512_maskz_loadu_ps(first_lanes(s.count - e), x + e);
        if (width - e0 >= 16) {
          _mm512_storeu_ps(row + e0, v);
        } else {
          _mm512_mask_storeu_ps(row + e0, first_lanes(width - e0), v);
        }
      }
    }
  }
}

// k contiguous (sk == 1: A transposed, B as stored): 16 entries by 16 values of k are transposed at once.
MLP_AVX512F_TARGET inline void pack_f32_k(const PanelSource& s, Index width, float* dst) {
  for (Index e = 0; e < s.count; e += width) {
    const Index count = std::min(width, s.count - e);
    float* panel = dst + e * s.kc;
    for (Index p0 = 0; p0 < s.kc; p0 += 16) {
      const Index rows = std::min<Index>(16, s.kc - p0);
      const __mmask16 load = first_lanes(rows);
      for (Index e0 = 0; e0 < width; e0 += 16) {
        __m512i r[16];
        for (Index i = 0; i < 16; ++i) {
          r[i] = e0 + i < count ? _mm512_castps_si512(_mm512_maskz_loadu_ps(load, s.src + (e + e0 + i) * s.se + p0))
                                : _mm512_setzero_si512();
        }
        transpose_16x16(r);
        const __mmask16 store = first_lanes(width - e0);
        for (Index q = 0; q < rows; ++q) _mm512_mask_storeu_ps(panel + (p0 + q) * width + e0, store, _mm512_castsi512_ps(r[q]));
      }
    }
  }
}

// By columns (f32_tile_sums_columns), from a source with k contiguous (sk == 1): entry e's kc values
// to dst + e kc, a copy.
inline void pack_f32_columns(const PanelSource& s, float* dst) {
  MLP_ASSERT(s.sk == 1, "pack_f32_columns: k not contiguous");
  for (Index e = 0; e < s.count; ++e) std::copy_n(s.src + e * s.se, s.kc, dst + e * s.kc);
}

MLP_AVX512F_TARGET inline void pack_f32(const PanelSource& s, Index width, float* dst) {
  MLP_ASSERT(s.se == 1 || s.sk == 1, "pack_f32: neither entries nor k contiguous");
  if (s.se == 1) {
    pack_f32_entries(s, width, dst);
  } else {
    pack_f32_k(s, width, dst);
  }
}

// acc[v][j] += the kc products of a packed panel of A (kc rows of 32) and one of B (kc rows of 12)
// for rows 16 v .. 16 v + 15 and column j, in the order of k (what every tile of the fp32 products
// runs between loading and storing its accumulators).
template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void f32_tile_sums(__m512 (&acc)[MV][N], Index kc,
                                                                           const float* a, const float* b) {
#pragma GCC unroll 2
  for (Index p = 0; p < kc; ++p) {
    const float* ap = a + p * kF32Mr;
    const float* bp = b + p * kF32Nr;
    __m512 av[MV];
    for (int v = 0; v < MV; ++v) av[v] = _mm512_loadu_ps(ap + Index{16} * v);
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j) {
      const __m512 bj = _mm512_set1_ps(bp[j]);
      for (int v = 0; v < MV; ++v) acc[v][j] = _mm512_fmadd_ps(av[v], bj, acc[v][j]);
    }
  }
}

// The same sums from a panel of B stored by columns: column j's kc values one after the other, ldb
// floats apart (B's panel as its source holds it when k is contiguous there, so that packing it is a
// copy instead of a transpose). The same fused multiply-adds in the same order: the same bits.
template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void f32_tile_sums_columns(__m512 (&acc)[MV][N], Index kc,
                                                                                   const float* a, const float* b,
                                                                                   Index ldb) {
  // Four base pointers, each column then one or two strides from one of them: twelve pointers of
  // their own would not fit the general registers next to the loop's.
  const float* base[4] = {b, b + 3 * ldb, b + 6 * ldb, b + 9 * ldb};
#pragma GCC unroll 2
  for (Index p = 0; p < kc; ++p) {
    const float* ap = a + p * kF32Mr;
    __m512 av[MV];
    for (int v = 0; v < MV; ++v) av[v] = _mm512_loadu_ps(ap + Index{16} * v);
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j) {
      const __m512 bj = _mm512_set1_ps(base[j / 3][(j % 3) * ldb + p]);
      for (int v = 0; v < MV; ++v) acc[v][j] = _mm512_fmadd_ps(av[v], bj, acc[v][j]);
    }
  }
}

// C[0:m, 0:N] (column-major, ldc) from a packed panel of A and one of B (by rows of k, or by columns
// ldb floats apart: f32_tile_sums_columns), with MV zmm of rows (16 or 32 rows, `m` of them valid);
// the sums start as load_c_tile says and are finished as `finish` says (at the tile's element
// (0, 0); only after the last block of k).
template <int MV, int N, bool ByColumns>
MLP_AVX512F_TARGET void f32_tile(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, Index m,
                                 bool load_c, const float* rows, const GemmFinish<float>* finish) {
  __m512 acc[MV][N];
  load_c_tile(acc, c, ldc, m, load_c, rows);
  prefetch_finish<MV, N>(finish);
  if constexpr (ByColumns) {
    f32_tile_sums_columns(acc, kc, a, b, ldb);
  } else {
    (void)ldb;
    f32_tile_sums(acc, kc, a, b);
  }
  finish_c_tile(acc, finish, m);
  store_c_tile(acc, c, ldc, m);
}

using F32TileFn = void (*)(Index, const float*, const float*, Index, float*, Index, Index, bool, const float*,
                           const GemmFinish<float>*);

template <int MV, bool ByColumns, int... N>
constexpr std::array<F32TileFn, sizeof...(N)> f32_tile_table(std::integer_sequence<int, N...>) {
  return {&f32_tile<MV, N + 1, ByColumns>...};
}

template <bool ByColumns>
inline void f32_tile_dispatch(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, Index m,
                              Index n, bool load_c, const float* rows, const GemmFinish<float>* finish) {
  static constexpr auto one = f32_tile_table<1, ByColumns>(std::make_integer_sequence<int, kF32Nr>{});
  static constexpr auto two = f32_tile_table<2, ByColumns>(std::make_integer_sequence<int, kF32Nr>{});
  (m > 16 ? two : one)[static_cast<std::size_t>(n - 1)](kc, a, b, ldb, c, ldc, m, load_c, rows, finish);
}

// One tile: C[0:m, 0:n], m <= kF32Mr, n <= kF32Nr, from a panel of B by rows of k.
inline void f32_tile_any(Index kc, const float* a, const float* b, float* c, Index ldc, Index m, Index n,
                         bool load_c, const float* rows = nullptr, const GemmFinish<float>* finish = nullptr) {
  f32_tile_dispatch<false>(kc, a, b, 0, c, ldc, m, n, load_c, rows, finish);
}

// The same from a panel of B by columns, ldb floats apart.
inline void f32_tile_columns_any(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, Index m,
                                 Index n, bool load_c, const float* rows = nullptr,
                                 const GemmFinish<float>* finish = nullptr) {
  f32_tile_dispatch<true>(kc, a, b, ldb, c, ldc, m, n, load_c, rows, finish);
}

// How gemm_f32_block lays out B's panels. When k runs down B's columns (B as stored), the tiles read
// them by columns (f32_tile_sums_columns): where they are, without packing (packing them by rows of
// k transposed them 16 x 16: each thread of a product cut by rows did so for all of B, the study
// CNN's Linear(3136, 128) forward 0.73-0.78 -> 0.63-0.66 ms per step on one thread, 0.54-0.62 ->
// 0.42-0.45 on two); copied into place first when the columns are a multiple of 512 floats apart,
// where the twelve columns of a tile would fall in one or two of L1's 64 sets (8 ways on some
// AVX-512 CPUs). When B is stored transposed, its panels are packed by rows of k as before (a copy
// in that layout).
enum class BPanels { Rows, Columns, InPlace };
inline BPanels b_panels_for(const GemmProblem& g) {
  if (g.transpose_b) return BPanels::Rows;
  return g.ldb % 512 == 0 ? BPanels::Columns : BPanels::InPlace;
}

// C[i0:i1, j0:j1] of the product, on the calling thread, with packing buffers of at least
// bl.a_floats(i1 - i0, k) and bl.b_floats(j1 - j0, k) floats. Only on a CPU with AVX512F
// (cpu_has_avx512f()). Any split of C into such blocks gives the same bits (the top of the file).
inline void gemm_f32_block(const GemmProblem& g, Index i0, Index i1, Index j0, Index j1, float* pa, float* pb,
                           const F32Blocking& bl = {}) {
  MLP_ASSERT(g.k > 0 && 0 <= i0 && i0 <= i1 && i1 <= g.m && 0 <= j0 && j0 <= j1 && j1 <= g.n,
             "gemm_f32_block: block outside C");
  MLP_ASSERT(bl.mc % kF32Mr == 0 && bl.nc % kF32Nr == 0 && bl.kc >= 1, "gemm_f32_block: bad blocking");
  const Index kc_max = bl.kc_for(g.k);
  const BPanels b_panels = b_panels_for(g);
  const bool by_columns = b_panels != BPanels::Rows;
  for (Index jc = j0; jc < j1; jc += bl.nc) {
    const Index nc = std::min(bl.nc, j1 - jc);
    for (Index pc = 0; pc < g.k; pc += kc_max) {
      const Index kc = std::min(kc_max, g.k - pc);
      const float* bp = pb;  // the block's first panel, its columns ldb apart when by columns
      Index ldb = kc;
      if (b_panels == BPanels::Rows) {
        pack_f32(b_block(g, jc, nc, pc, kc), kF32Nr, pb);
      } else if (b_panels == BPanels::Columns) {
        pack_f32_columns(b_block(g, jc, nc, pc, kc), pb);
      } else {
        bp = g.b + pc + jc * g.ldb;
        ldb = g.ldb;
      }
      for (Index ic = i0; ic < i1; ic += bl.mc) {
        const Index mc = std::min(bl.mc, i1 - ic);
        pack_f32(a_block(g, ic, mc, pc, kc), kF32Mr, pa);
        const float* rows = g.row_start != nullptr ? g.row_start + ic : nullptr;
        const bool finish = pc + kc == g.k && g.finish.kind != GemmFinish<float>::Kind::None;
        for (Index jr = 0; jr < nc; jr += kF32Nr) {
          for (Index ir = 0; ir < mc; ir += kF32Mr) {
            const GemmFinish<float> tile_finish = g.finish.at(ic + ir, jc + jr);
            float* c = g.c + (ic + ir) + (jc + jr) * g.ldc;
            const Index m = std::min(kF32Mr, mc - ir), n = std::min(kF32Nr, nc - jr);
            const float* tile_rows = rows != nullptr ? rows + ir : nullptr;
            const GemmFinish<float>* fin = finish ? &tile_finish : nullptr;
            if (by_columns) {
              f32_tile_columns_any(kc, pa + ir * kc, bp + jr * ldb, ldb, c, g.ldc, m, n, g.accumulate || pc > 0,
                                   tile_rows, fin);
            } else {
              f32_tile_any(kc, pa + ir * kc, pb + jr * kc, c, g.ldc, m, n, g.accumulate || pc > 0, tile_rows, fin);
            }
          }
        }
      }
    }
  }
}
#endif

}  // namespace mlp::detail
