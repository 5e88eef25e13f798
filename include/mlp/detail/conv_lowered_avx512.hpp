// Conv2d's lowered products for float images with contiguous taps on a CPU with AVX512F, without
// im2col writing cols (9 x the chunk's input for a 3 x 3 kernel: 0.9 MB per chunk of the
// study's second layer) for the packing to read back: the panels of cols are packed straight from
// the images, with im2col_avx512.hpp's masked loads (the same values, +0 in the padding). For a
// chunk of n samples from `first`:
//
//   forward:  y[o P + p, first + s] = (sum over q of cols(s P + p, q) W(o, q), in the order of q) + b[o]
//             each tile of C going straight into the output's layout (a sample's P x O block, column
//             stride P) with the bias added to its finished sum, instead of into z for a copy that
//             added the bias;
//   dL/dW:    dW = dZ^T cols, cols as the second operand (packed by columns, as it lies in the images);
//   dL/dx:    col2im(dZ W), whose columns are computed and added into dx a few channels at a time,
//             while they are in cache.
//
// The chunk's rows (s P + p) run on from one sample into the next inside a vector of 16 rows when P
// is not a multiple of 16: such a vector is loaded (and stored) in two masked parts, one per sample.
// Each element of C is still one chain of fused multiply-adds in the order of k, so the bits are
// those of im2col + gemm (gemm_f32_kernel.hpp) + copy or col2im (tests/test_im2col.cpp compares them).
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/contiguous_tap.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/gemm_f32_kernel.hpp"
#include "mlp/detail/gemm_operands.hpp"
#include "mlp/detail/im2col.hpp"
#include "mlp/detail/window2d.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace mlp::detail {

// Which lanes of each vector of 16 rows of a chunk's cols read inside the image, for each tap of the
// kernel: `here` for the rows of the vector's first sample, `next` for the rows that run on into the
// following sample (none unless the vector crosses the end of a sample). Built once per layer and
// chunk size (Conv2d keeps it), read by all workers.
struct ChunkTapMasks {
  Index taps = 0, samples = 0, vectors = 0;
  std::vector<std::uint16_t> here, next;  // vectors x taps, tap fastest

  bool fits(const Window2d& g, Index chunk) const { return taps == g.taps() && samples >= chunk && vectors > 0; }
};

// Whether a chunk of `count` samples may take conv_forward_avx512 and conv_weight_grad_avx512: im2col's
// AVX-512 loops apply (im2col_vectorized), and a vector of 16 rows crosses at most one sample's
// end (P >= 16).
inline bool conv_lowered_fused(const Window2d& g, Index count) {
  return g.out_pixels() >= 16 && im2col_vectorized(g, count);
}

#ifdef MLP_HAVE_AVX512F_CODE

MLP_AVX512F_TARGET inline void build_chunk_tap_masks(const Window2d& g, Index samples, ChunkTapMasks& m) {
  const Index P = g.out_pixels(), taps = g.taps();
  m.taps = taps;
  m.samples = samples;
  m.vectors = (samples * P + 15) / 16;
  m.here.assign(static_cast<std::size_t>(m.vectors * taps), 0);
  m.next.assign(static_cast<std::size_t>(m.vectors * taps), 0);
  for (Index v = 0; v < m.vectors; ++v) {
    const Index o = 16 * v % P;
    for (Index t = 0; t < taps; ++t) {
      const ContiguousTap tap = contiguous_tap(g, t / g.kernel.w, t % g.kernel.w);
      __mmask16 mask = 0;
      tap_masks(tap, g.out_w, o, 1, &mask);
      m.here[static_cast<std::size_t>(v * taps + t)] = mask;
      if (o + 16 > P) {
        tap_masks(tap, g.out_w, o - P, 1, &mask);  // lanes before the sample's first pixel are off
        m.next[static_cast<std::size_t>(v * taps + t)] = mask;
      }
    }
  }
}

// The packing reads all the channels of a sample at once, as many streams as channels, which the
// hardware prefetchers do not follow: the chunk's images are fetched in order first (into L2).
MLP_AVX512F_TARGET inline void prefetch_images(const float* x, Index ldx, Index first, Index count,
                                               const Window2d& g) {
  const float* last = x + (first + count - 1) * ldx + g.channels * g.in_pixels();  // past the last image
  const char* begin = reinterpret_cast<const char*>(x + first * ldx);  // NOLINT
  const char* end = reinterpret_cast<const char*>(last);               // NOLINT
  for (const char* line = begin; line < end; line += 64) _mm_prefetch(line, _MM_HINT_T1);
}

namespace conv_lowered_impl {

// The 16 rows of the chunk's cols from row r0 (a multiple of 16): lane i is pixel o + i of sample
// first + s, or, when the rows run on into the next sample, pixel o + i - P of that one.
struct ColsVector {
  const float* image;  // sample first + s
  Index o, next_offset;
  const std::uint16_t* here_masks;  // per tap
  const std::uint16_t* next_masks;
  bool cross;

  // Column c taps + t of these rows (+0 in the padding and past the chunk's last row).
  MLP_AVX512F_TARGET __m512 load(Index c, Index t, Index HW, const Index* shifts) const {
    return load_from(c * HW + shifts[t], t);
  }
  // The same, with c HW + shifts[t] given as `offset`.
  MLP_AVX512F_TARGET __m512 load_from(Index offset, Index t) const {
    const Index at = o + offset;
    const __m512 v = _mm512_maskz_loadu_ps(here_masks[t], shifted(image, at));
    return cross ? _mm512_mask_loadu_ps(v, next_masks[t], shifted(image, at + next_offset)) : v;
  }
};

inline ColsVector cols_vector(const float* x, Index ldx, Index first, Index count, Index P,
                              const ChunkTapMasks& masks, Index r0) {
  const Index s = r0 / P, o = r0 - s * P, m = (r0 / 16) * masks.taps;
  return {x + (first + s) * ldx, o, ldx - P, masks.here.data() + m, masks.next.data() + m,
          o + 16 > P && s + 1 < count};
}

// Rows i0 .. i0 + mc of the chunk's cols, values pc .. pc + kc of k, packed as pack_f32 packs A
// (panels of kF32Mr rows, +0 past the chunk's last row), read from the images.
MLP_AVX512F_TARGET inline void pack_cols(const float* x, Index ldx, Index first, Index count, const Window2d& g,
                                         const ChunkTapMasks& masks, const Index* shifts, Index i0, Index mc,
                                         Index pc, Index kc, float* dst) {
  const Index P = g.out_pixels(), HW = g.in_pixels(), taps = g.taps(), rows = count * P;
  for (Index q = 0; q * kF32Mr < mc; ++q) {
    float* panel = dst + q * kc * kF32Mr;
    for (Index half = 0; half < 2; ++half) {
      const Index r0 = i0 + q * kF32Mr + 16 * half;
      float* out = panel + 16 * half;
      if (r0 >= rows) {
        for (Index p = 0; p < kc; ++p) _mm512_storeu_ps(out + p * kF32Mr, _mm512_setzero_ps());
        continue;
      }
      const ColsVector rows16 = cols_vector(x, ldx, first, count, P, masks, r0);
      Index c = pc / taps, t = pc % taps;
      for (Index p = 0; p < kc; ++p) {
        _mm512_storeu_ps(out + p * kF32Mr, rows16.load(c, t, HW, shifts));
        if (++t == taps) {
          t = 0;
          ++c;
        }
      }
    }
  }
}

// Where a tile's rows go in y: the vector of 16 rows from chunk row r0 (m of them valid) starts at
// pixel o of sample s; `here` lanes stay in s, `next` lanes run on into s + 1.
struct RowVector {
  float* at;  // pixel o of channel 0 of sample first + s
  Index next_offset;
  __mmask16 here, next;
};

// p + offset floats, as an address only (only the lanes inside the output are stored there).
inline float* shifted_out(float* p, Index offset) {
  return reinterpret_cast<float*>(reinterpret_cast<std::uintptr_t>(p) +  // NOLINT
                                  static_cast<std::uintptr_t>(offset * static_cast<Index>(sizeof(float))));
}

inline RowVector row_vector(float* y, Index ldy, Index first, Index P, Index r0, Index valid) {
  const Index s = r0 / P, o = r0 - s * P;
  const __mmask16 lanes = first_lanes(valid), in_sample = first_lanes(P - o);
  return {y + (first + s) * ldy + o, ldy - P, static_cast<__mmask16>(lanes & in_sample),
          static_cast<__mmask16>(lanes & ~in_sample)};
}

// A tile's rows of cols read straight from the images (no vector of them crossing a sample's end):
// vector v's values of k value p are the 16 pixels at base[v] + off[p] (as an address only), the
// lanes of masks[v][tap[p]] (+0 elsewhere), exactly what pack_cols stores.
struct ImageRows {
  const float* base[2];
  const std::uint16_t* masks[2];
  const Index* off;
  const Index* tap;
};

// f32_tile_sums with A's vectors loaded from the images.
template <int MV, int N>
MLP_AVX512F_TARGET __attribute__((always_inline)) inline void image_tile_sums(__m512 (&acc)[MV][N], Index kc,
                                                                             const ImageRows& rows, const float* b) {
#pragma GCC unroll 2
  for (Index p = 0; p < kc; ++p) {
    const Index at = rows.off[p], t = rows.tap[p];
    const float* bp = b + p * kF32Nr;
    __m512 av[MV];
    for (int v = 0; v < MV; ++v) av[v] = _mm512_maskz_loadu_ps(rows.masks[v][t], shifted(rows.base[v], at));
#pragma GCC unroll 12
    for (int j = 0; j < N; ++j) {
      const __m512 bj = _mm512_set1_ps(bp[j]);
      for (int v = 0; v < MV; ++v) acc[v][j] = _mm512_fmadd_ps(av[v], bj, acc[v][j]);
    }
  }
}

// C tile of rows r0.. (m valid, MV vectors) and output channels j0 .. j0 + N, its rows of cols
// packed (a) or read from the images (image_rows): accumulated over this block of k (onto what
// earlier blocks stored when load_c), then stored into y, plus bias[j] when this is the last block
// of k (bias null before: the unfinished sum is stored as it is).
template <int MV, int N, bool FromImages>
MLP_AVX512F_TARGET void tile(Index kc, const float* a, const ImageRows* image_rows, const float* b, float* y,
                             Index ldy, Index first, Index P, Index r0, Index j0, Index m, bool load_c,
                             const float* bias) {
  RowVector rv[MV];
  for (int v = 0; v < MV; ++v) rv[v] = row_vector(y, ldy, first, P, r0 + Index{16} * v, m - Index{16} * v);
  __m512 acc[MV][N];
#pragma GCC unroll 12
  for (int j = 0; j < N; ++j) {
    for (int v = 0; v < MV; ++v) {
      float* c = rv[v].at + (j0 + j) * P;
      acc[v][j] = _mm512_setzero_ps();
      if (load_c) {
        acc[v][j] = _mm512_maskz_loadu_ps(rv[v].here, c);
        if (rv[v].next != 0) acc[v][j] = _mm512_mask_loadu_ps(acc[v][j], rv[v].next, shifted(c, rv[v].next_offset));
      }
    }
  }
  // The tile's lines of y, asked for before its sums: y is written once, and the stores would
  // otherwise wait for each line to come from memory (forward 5.9 -> 5.7 ms per step on the
  // study CNN's second layer).
#pragma GCC unroll 12
  for (int j = 0; j < N; ++j) {
    for (int v = 0; v < MV; ++v) {
      float* c = rv[v].at + (j0 + j) * P;
      if (rv[v].here != 0) __builtin_prefetch(c, 1);
      if (rv[v].next != 0) __builtin_prefetch(shifted_out(c, rv[v].next_offset), 1);
    }
  }
  if constexpr (FromImages) {
    (void)a;
    image_tile_sums(acc, kc, *image_rows, b);
  } else {
    (void)image_rows;
    f32_tile_sums(acc, kc, a, b);
  }
#pragma GCC unroll 12
  for (int j = 0; j < N; ++j) {
    const __m512 add = bias != nullptr ? _mm512_set1_ps(bias[j0 + j]) : _mm512_setzero_ps();
    for (int v = 0; v < MV; ++v) {
      float* c = rv[v].at + (j0 + j) * P;
      // z + b, one rounding, as the copy added it (a layer without bias adds its zeros too)
      const __m512 value = bias != nullptr ? _mm512_add_ps(acc[v][j], add) : acc[v][j];
      if (rv[v].here == 0xFFFF) {
        _mm512_storeu_ps(c, value);  // whole vectors in one sample (masked stores are slower on AMD)
      } else {
        _mm512_mask_storeu_ps(c, rv[v].here, value);
        if (rv[v].next != 0) _mm512_mask_storeu_ps(shifted_out(c, rv[v].next_offset), rv[v].next, value);
      }
    }
  }
}

using TileFn = void (*)(Index, const float*, const ImageRows*, const float*, float*, Index, Index, Index, Index, Index,
                        Index, bool, const float*);

template <int MV, bool FromImages, int... N>
constexpr std::array<TileFn, sizeof...(N)> tile_table(std::integer_sequence<int, N...>) {
  return {&tile<MV, N + 1, FromImages>...};
}

}  // namespace conv_lowered_impl

// y's columns first .. first + count (each out x P, channel-major) = the convolution of those samples
// of x with weight (out x K, K = C kh kw) plus bias (out values), on the calling thread, with packing
// buffers pa (F32Blocking::a_floats(count P, K) floats) and pb (b_floats(out, K)) and masks built by
// build_chunk_tap_masks for at least `count` samples. Only when conv_lowered_fused(g, count).
MLP_AVX512F_TARGET inline void conv_forward_avx512(const float* x, Index ldx, Index first, Index count,
                                                   const Window2d& g, const ChunkTapMasks& masks,
                                                   const float* weight, Index out, const float* bias, float* y,
                                                   Index ldy, float* pa, float* pb) {
  MLP_ASSERT(conv_lowered_fused(g, count) && masks.fits(g, count), "conv_forward_avx512: unsupported window");
  static constexpr auto one = conv_lowered_impl::tile_table<1, false>(std::make_integer_sequence<int, kF32Nr>{});
  static constexpr auto two = conv_lowered_impl::tile_table<2, false>(std::make_integer_sequence<int, kF32Nr>{});
  static constexpr auto one_images = conv_lowered_impl::tile_table<1, true>(std::make_integer_sequence<int, kF32Nr>{});
  static constexpr auto two_images = conv_lowered_impl::tile_table<2, true>(std::make_integer_sequence<int, kF32Nr>{});
  const Index P = g.out_pixels(), rows = count * P, K = g.channels * g.taps(), HW = g.in_pixels(), taps = g.taps();
  Index shifts[kTapMaskMaxTaps];
  for (Index t = 0; t < g.taps(); ++t) shifts[t] = contiguous_tap(g, t / g.kernel.w, t % g.kernel.w).shift;
  prefetch_images(x, ldx, first, count, g);
  constexpr F32Blocking bl;
  constexpr Index kMaxKc = bl.kc;
  const Index kc_max = bl.kc_for(K);
  // B = W^T (K x out): entry j of k value p is weight(j, p)
  const GemmProblem wt{rows, out, K, nullptr, 0, false, weight, out, true, y, ldy, false};
  for (Index jc = 0; jc < out; jc += bl.nc) {
    const Index nc = std::min(bl.nc, out - jc);
    for (Index pc = 0; pc < K; pc += kc_max) {
      const Index kc = std::min(kc_max, K - pc);
      const bool last = pc + kc == K;
      pack_f32(b_block(wt, jc, nc, pc, kc), kF32Nr, pb);
      // Where each value of k reads in a channel plane, and its tap.
      Index off[kMaxKc], tap[kMaxKc];
      for (Index p = 0, c = pc / taps, t = pc % taps; p < kc; ++p) {
        off[p] = c * HW + shifts[t];
        tap[p] = t;
        if (++t == taps) {
          t = 0;
          ++c;
        }
      }
      for (Index ic = 0; ic < rows; ic += bl.mc) {
        const Index mc = std::min(bl.mc, rows - ic);
        // A panel whose rows run on from one sample into the next is packed (its tiles would need
        // two loads per vector); the others' tiles read the images themselves, while each tile's
        // stretch of the channel planes is in L1 (the packed panels streamed from L2, and the
        // packing took 14% of the forward).
        // Each panel's rows, worked out once for all the weight's panels: from the images, or
        // packed (null off).
        conv_lowered_impl::ImageRows panel_rows[bl.mc / kF32Mr];
        for (Index ir = 0; ir < mc; ir += kF32Mr) {
          conv_lowered_impl::ImageRows& r = panel_rows[ir / kF32Mr];
          r = {};
          r.off = off;
          r.tap = tap;
          for (Index v = 0; v < 2 && ir + 16 * v < mc; ++v) {
            const conv_lowered_impl::ColsVector cv =
                conv_lowered_impl::cols_vector(x, ldx, first, count, P, masks, ic + ir + 16 * v);
            r.base[v] = shifted(cv.image, cv.o);
            r.masks[v] = cv.here_masks;
            if (cv.cross) r.off = nullptr;
          }
          if (r.off == nullptr) {
            conv_lowered_impl::pack_cols(x, ldx, first, count, g, masks, shifts, ic + ir, std::min(kF32Mr, mc - ir),
                                         pc, kc, pa + ir * kc);
          }
        }
        for (Index jr = 0; jr < nc; jr += kF32Nr) {
          for (Index ir = 0; ir < mc; ir += kF32Mr) {
            const Index m = std::min(kF32Mr, mc - ir), n = std::min(kF32Nr, nc - jr);
            const auto i = static_cast<std::size_t>(n - 1);
            const conv_lowered_impl::ImageRows& r = panel_rows[ir / kF32Mr];
            if (r.off == nullptr) {
              (m > 16 ? two : one)[i](kc, pa + ir * kc, nullptr, pb + jr * kc, y, ldy, first, P, ic + ir, jc + jr, m,
                                      pc > 0, last ? bias : nullptr);
            } else {
              (m > 16 ? two_images : one_images)[i](kc, nullptr, &r, pb + jr * kc, y, ldy, first, P, ic + ir,
                                                    jc + jr, m, pc > 0, last ? bias : nullptr);
            }
          }
        }
      }
    }
  }
}

// The fused dL/dW's blocks of k (the chunk's rows): whole vectors of 16 rows, so that each vector's
// masks apply, about F32Blocking's size. Any blocking of k gives the same bits (gemm_f32_kernel.hpp).
inline Index weight_grad_kc(Index rows) {
  const F32Blocking bl;
  const Index blocks = (rows + bl.kc - 1) / bl.kc;
  return round_up((rows + blocks - 1) / blocks, 16);
}

// The largest weight_grad_kc of a chunk of at most `rows` rows. weight_grad_kc does not grow with
// the rows (336 rows take two blocks of 176, 315 rows one of 320), so a batch's smaller last chunk
// may need more than a full one: up to F32Blocking's kc (rounded up to whole vectors), and a chunk
// of r <= kc rows takes r rounded up.
inline Index weight_grad_kc_max(Index rows) {
  return std::min(round_up(rows, 16), round_up(F32Blocking{}.kc, 16));
}

// Packing buffer floats conv_weight_grad_avx512 needs for any chunk of at most `rows` rows: for A
// (dL/dZ^T, out rows) and for B (cols).
inline Index weight_grad_a_floats(Index out, Index rows) {
  return std::min(F32Blocking{}.mc, round_up(out, kF32Mr)) * weight_grad_kc_max(rows);
}
inline Index weight_grad_b_floats(Index K, Index rows) {
  return std::min(F32Blocking{}.nc, round_up(K, kF32Nr)) * weight_grad_kc_max(rows);
}

namespace conv_lowered_impl {

// Columns j0 .. j0 + nc of the chunk's cols (taps), rows pc .. pc + kc (pc a multiple of 16), as
// f32_tile_sums_columns reads B: panels of kF32Nr columns (the last one narrower), each column's kc
// values one after the other. Each 16 rows of a column are one load as in pack_cols and one store:
// in panels by rows of k (pack_f32's B) they were transposed 16 x 16, which took most of the
// packing's time.
MLP_AVX512F_TARGET inline void pack_cols_by_columns(const float* x, Index ldx, Index first, Index count,
                                                    const Window2d& g, const ChunkTapMasks& masks,
                                                    const Index* shifts, Index j0, Index nc, Index pc, Index kc,
                                                    float* dst) {
  const Index P = g.out_pixels(), HW = g.in_pixels(), taps = g.taps();
  for (Index e = 0; e < nc; e += kF32Nr) {
    const Index width = std::min(kF32Nr, nc - e);
    float* panel = dst + e * kc;
    // Where each of the panel's columns reads, and its tap, worked out once per panel: two integer
    // divisions per column and vector of rows took 12% of the packing.
    Index offset[kF32Nr], tap[kF32Nr];
    for (Index i = 0; i < width; ++i) {
      const Index q = j0 + e + i;
      tap[i] = q % taps;
      offset[i] = q / taps * HW + shifts[tap[i]];
    }
    for (Index p0 = 0; p0 < kc; p0 += 16) {
      const ColsVector rows16 = cols_vector(x, ldx, first, count, P, masks, pc + p0);
      float* out = panel + p0;
      if (p0 + 16 <= kc) {
        for (Index i = 0; i < width; ++i) _mm512_storeu_ps(out + i * kc, rows16.load_from(offset[i], tap[i]));
      } else {
        const __mmask16 store = first_lanes(kc - p0);
        for (Index i = 0; i < width; ++i) _mm512_mask_storeu_ps(out + i * kc, store, rows16.load_from(offset[i], tap[i]));
      }
    }
  }
}

}  // namespace conv_lowered_impl

// dweight (out x K, column stride out) = dz^T cols for the chunk of `count` samples of x from
// `first`, dz being the chunk's dL/dZ (count P x out, column stride ldz), on the calling thread:
// the product detail::gemm computes from im2col's cols, with the same bits, with cols packed
// straight from the images. pa, pb: weight_grad_a_floats(out, count P), weight_grad_b_floats(K,
// count P) floats; masks as for conv_forward_avx512.
MLP_AVX512F_TARGET inline void conv_weight_grad_avx512(const float* x, Index ldx, Index first, Index count,
                                                       const Window2d& g, const ChunkTapMasks& masks,
                                                       const float* dz, Index ldz, Index out, float* dweight,
                                                       float* pa, float* pb) {
  MLP_ASSERT(conv_lowered_fused(g, count) && masks.fits(g, count), "conv_weight_grad_avx512: unsupported window");
  const Index rows = count * g.out_pixels(), K = g.channels * g.taps();
  Index shifts[kTapMaskMaxTaps];
  for (Index t = 0; t < g.taps(); ++t) shifts[t] = contiguous_tap(g, t / g.kernel.w, t % g.kernel.w).shift;
  prefetch_images(x, ldx, first, count, g);
  const F32Blocking bl;
  const Index kc_max = weight_grad_kc(rows);
  // A = dz^T (out x rows): entry i of k value p is dz(p, i)
  const GemmProblem dzt{out, K, rows, dz, ldz, true, nullptr, 0, false, dweight, out, false, nullptr};
  for (Index jc = 0; jc < K; jc += bl.nc) {
    const Index nc = std::min(bl.nc, K - jc);
    for (Index pc = 0; pc < rows; pc += kc_max) {
      const Index kc = std::min(kc_max, rows - pc);
      conv_lowered_impl::pack_cols_by_columns(x, ldx, first, count, g, masks, shifts, jc, nc, pc, kc, pb);
      for (Index ic = 0; ic < out; ic += bl.mc) {
        const Index mc = std::min(bl.mc, out - ic);
        pack_f32(a_block(dzt, ic, mc, pc, kc), kF32Mr, pa);
        for (Index jr = 0; jr < nc; jr += kF32Nr) {
          for (Index ir = 0; ir < mc; ir += kF32Mr) {
            f32_tile_columns_any(kc, pa + ir * kc, pb + jr * kc, kc, dweight + (ic + ir) + (jc + jr) * out, out,
                                 std::min(kF32Mr, mc - ir), std::min(kF32Nr, nc - jr), pc > 0);
          }
        }
      }
    }
  }
}

// Channels of dL/dx that conv_input_grad_avx512 computes together for chunks of `rows` rows: their
// columns of dL/dcols (rows x channels taps) about 128 KiB, so that col2im reads them from L2, and
// as many whole panels of kF32Nr columns as the tap count allows.
inline Index input_grad_channels(const Window2d& g, Index rows) {
  const Index taps = g.taps(), whole = kF32Nr / std::gcd(taps, kF32Nr);
  const Index fit = (Index{1} << 15) / std::max<Index>(1, rows * taps);
  return std::clamp<Index>(std::max<Index>(1, fit / whole) * whole, 1, g.channels);
}
// Packing buffer floats conv_input_grad_avx512 needs for any chunk of at most `rows` rows: for A
// (all of dL/dZ) and for B (a group's columns of the weight). A chunk of fewer rows takes more
// channels per group (input_grad_channels), at most those of a chunk of one sample.
inline Index input_grad_a_floats(Index out, Index rows) { return round_up(rows, kF32Mr) * out; }
inline Index input_grad_b_floats(const Window2d& g, Index out) {
  return round_up(input_grad_channels(g, g.out_pixels()) * g.taps(), kF32Nr) * out;
}

// dx's columns first .. first + count = col2im(dz W) for the chunk of `count` samples
// whose dL/dZ is dz (count P x out, column stride ldz): the product detail::gemm computes into
// cols followed by col2im, with the same bits, a few channels at a time (input_grad_channels):
// their columns of dz W go into `cols` (count P x those columns, column stride count P) and are
// added into dx at once, while in cache (the whole dL/dcols of a chunk of the study CNN's second
// layer is 0.9 MB, and col2im read it back from L3). dz is packed once for all groups (pa:
// input_grad_a_floats(out, count P)), each group's weight columns into pb
// (input_grad_b_floats(g, out)). Only when conv_lowered_fused(g, count).
MLP_AVX512F_TARGET inline void conv_input_grad_avx512(const float* dz, Index ldz, Index out, const float* weight,
                                                      const Window2d& g, Index first, Index count, float* cols,
                                                      float* pa, float* pb, float* dx, Index lddx) {
  MLP_ASSERT(conv_lowered_fused(g, count), "conv_input_grad_avx512: unsupported window");
  const Index rows = count * g.out_pixels(), taps = g.taps(), K = g.channels * taps;
  const Index group = input_grad_channels(g, rows);
  // dL/dcols = dz W (rows x K); each element one chain over all out values of k (whatever the
  // blocking of k, the same bits: gemm_f32_kernel.hpp)
  const GemmProblem dcols{rows, K, out, dz, ldz, false, weight, out, false, cols, rows, false};
  pack_f32(a_block(dcols, 0, rows, 0, out), kF32Mr, pa);
  Window2d part = g;
  for (Index c0 = 0; c0 < g.channels; c0 += group) {
    part.channels = std::min(group, g.channels - c0);
    const Index j0 = c0 * taps, nc = part.channels * taps;
    pack_f32(b_block(dcols, j0, nc, 0, out), kF32Nr, pb);
    for (Index jr = 0; jr < nc; jr += kF32Nr) {
      for (Index ir = 0; ir < rows; ir += kF32Mr) {
        f32_tile_any(out, pa + ir * out, pb + jr * out, cols + ir + jr * rows, rows, std::min(kF32Mr, rows - ir),
                     std::min(kF32Nr, nc - jr), false);
      }
    }
    col2im_contiguous_avx512(cols, rows, first, count, part, dx + c0 * g.in_pixels(), lddx);
  }
}

#endif

}  // namespace mlp::detail
