// Matrix products with bf16 inputs and fp32 accumulation (docs/bf16.md):
//
//     C = op(A) op(B)   or   C += op(A) op(B),     op(X) = X or X^T,   all column-major float,
//
// C is m x n, op(A) m x k, op(B) k x n. The inputs are rounded to bf16 (nearest even) while they are
// packed; each element of C is accumulated in fp32 by one chain of vdpbf16ps steps over k in pairs
// (gemm_bf16_kernel.hpp), so the bits of C depend neither on the blocking nor on the thread count,
// nor on the caller's MXCSR. On a CPU with AVX512_BF16 the instruction does it; elsewhere (or when
// asked with Bf16Path::Portable) portable C++ gives the same bits, much more slowly.
//
// Threads: OpenMP when the program is built with it, thread_count() of them, each computing its
// own columns (or rows) of C with its own packing buffers in the GemmWorkspace. After the first call
// at a given size, a call allocates nothing.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/threads.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/float_mode.hpp"
#include "mlp/detail/gemm_bf16_kernel.hpp"
#include "mlp/detail/gemm_bf16_pack.hpp"
#include "mlp/detail/gemm_operands.hpp"
#include "mlp/detail/parallel.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mlp::detail {

enum class Bf16Path {
  Auto,      // AVX512_BF16 when the CPU has it, the portable code otherwise
  Portable,  // always the portable code (same results; for tests and comparisons)
};

// Whether gemm_bf16 with Bf16Path::Auto runs the AVX512_BF16 kernel on this machine (programs may
// say once that it does not; the library never prints).
inline bool gemm_bf16_fast_path_available() {
#ifdef MLP_HAVE_AVX512BF16_CODE
  return cpu_has_avx512_bf16();
#else
  return false;
#endif
}

// Cache blocking: a kc-deep block of B (kc x nc) is packed once and swept by blocks of A (mc x kc,
// in L2); a micro-panel of B (kc x kNr, in L1) is reused down the whole block of A. The results do
// not depend on these sizes. The defaults suit Zen 5 (48 KB L1d, 1 MB L2); there kc from 256 to 512
// and mc from 128 to 512 measured within noise of each other.
struct GemmBlocking {
  Index kc = 256;   // most values of k per block; k is cut into equal, even blocks
  Index mc = 256;   // rows of A per packed block (a multiple of kMr)
  Index nc = 1536;  // columns of B per packed block (a multiple of kNr)

  // The k-block size for a given k.
  Index kc_for(Index k) const {
    const Index blocks = (k + kc - 1) / kc;
    const Index size = (k + blocks - 1) / blocks;
    return size + (size & 1);
  }
};

// Packing buffers of every thread; they only grow (at most 0.9 MB per thread with the default
// blocking). One workspace serves one product at a time.
class GemmWorkspace {
 public:
  void reserve(int threads, std::size_t a_words, std::size_t b_words) {
    if (buffers_.size() < static_cast<std::size_t>(threads)) buffers_.resize(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      Buffers& x = buffers_[static_cast<std::size_t>(t)];
      grow(x.a, x.a_words, a_words);
      grow(x.b, x.b_words, b_words);
    }
  }
  std::uint32_t* packed_a(int thread) { return buffers_[static_cast<std::size_t>(thread)].a.get(); }
  std::uint32_t* packed_b(int thread) { return buffers_[static_cast<std::size_t>(thread)].b.get(); }

 private:
  struct Free {
    void operator()(std::uint32_t* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  using Words = std::unique_ptr<std::uint32_t, Free>;
  struct Buffers {
    Words a, b;
    std::size_t a_words = 0, b_words = 0;
  };
  static void grow(Words& w, std::size_t& have, std::size_t need) {
    if (have >= need) return;
    w.reset(static_cast<std::uint32_t*>(::operator new(need * sizeof(std::uint32_t), std::align_val_t{64})));
    have = need;
  }
  std::vector<Buffers> buffers_;
};

#ifdef MLP_HAVE_MXCSR
inline constexpr unsigned kDefaultFloatMode = 0x1F80;  // MXCSR at reset: all exceptions masked, RNE
#else
inline constexpr unsigned kDefaultFloatMode = 0;
#endif

// Puts the FPU in its default mode (round to nearest even, no flush-to-zero, no denormals-are-zero)
// until the end of the scope, when `enabled`; the portable kernel needs it to round as vdpbf16ps.
class DefaultFloatMode {
 public:
  explicit DefaultFloatMode(bool enabled) : saved_(float_mode()), enabled_(enabled) {
    if (enabled_) set_float_mode(kDefaultFloatMode);
  }
  ~DefaultFloatMode() {
    if (enabled_) set_float_mode(saved_);
  }
  DefaultFloatMode(const DefaultFloatMode&) = delete;
  DefaultFloatMode& operator=(const DefaultFloatMode&) = delete;

 private:
  unsigned saved_;
  bool enabled_;
};

// Packs ceil(s.count / width) panels of `width` entries one after the other (a block of A or B).
inline void pack_block(const PanelSource& s, Index width, std::uint32_t* dst, bool fast) {
  const Index kp = (s.kc + 1) / 2;
#ifdef MLP_HAVE_AVX512BF16_CODE
  if (fast && s.se == 1) return pack_block_avx512_entries(s, width, dst);
#endif
  for (Index e = 0; e < s.count; e += width) {
    const PanelSource panel{s.src + e * s.se, s.se, s.sk, std::min(width, s.count - e), s.kc};
#ifdef MLP_HAVE_AVX512BF16_CODE
    if (fast) {
      pack_panel_avx512_k(panel, width, dst + e * kp);
      continue;
    }
#endif
    pack_panel_portable(panel, width, dst + e * kp);
  }
}

inline void run_tile(Index kp, const std::uint32_t* a, const std::uint32_t* b, float* c, Index ldc, Index m,
                     Index n, bool load_c, const float* rows, const GemmFinish<float>* finish, bool fast) {
#ifdef MLP_HAVE_AVX512BF16_CODE
  if (fast) return tile_avx512_any(kp, a, b, c, ldc, m, n, load_c, rows, finish);
#endif
  (void)fast;
  tile_portable(kp, a, b, c, ldc, m, n, load_c, rows, finish);
}

// Words of packing buffer one thread needs for a block of rows x cols of C.
inline std::size_t packed_a_words(Index rows, Index k, const GemmBlocking& bl = {}) {
  const Index mc = std::min(bl.mc, (rows + kMr - 1) / kMr * kMr);
  return static_cast<std::size_t>(mc * (bl.kc_for(k) / 2));
}
inline std::size_t packed_b_words(Index cols, Index k, const GemmBlocking& bl = {}) {
  const Index nc = std::min(bl.nc, (cols + kNr - 1) / kNr * kNr);
  return static_cast<std::size_t>(nc * (bl.kc_for(k) / 2));
}

// C[i0:i1, j0:j1] of the product, on the calling thread, with packing buffers of packed_a_words and
// packed_b_words. Any split of C into such blocks gives the same bits (see gemm_bf16_kernel.hpp).
inline void gemm_bf16_block(const GemmProblem& g, Index i0, Index i1, Index j0, Index j1, std::uint32_t* pa,
                            std::uint32_t* pb, bool fast, const GemmBlocking& bl = {}) {
  MLP_ASSERT(g.k > 0 && 0 <= i0 && i0 <= i1 && i1 <= g.m && 0 <= j0 && j0 <= j1 && j1 <= g.n,
             "gemm_bf16_block: block outside C");
  const DefaultFloatMode mode(!fast);
  MLP_ASSERT(bl.mc % kMr == 0 && bl.nc % kNr == 0 && bl.kc >= 2, "gemm_bf16_block: bad blocking");
  const Index kc_max = bl.kc_for(g.k);
  for (Index jc = j0; jc < j1; jc += bl.nc) {
    const Index nc = std::min(bl.nc, j1 - jc);
    for (Index pc = 0; pc < g.k; pc += kc_max) {
      const Index kc = std::min(kc_max, g.k - pc), kp = (kc + 1) / 2;
      pack_block(b_block(g, jc, nc, pc, kc), kNr, pb, fast);
      for (Index ic = i0; ic < i1; ic += bl.mc) {
        const Index mc = std::min(bl.mc, i1 - ic);
        pack_block(a_block(g, ic, mc, pc, kc), kMr, pa, fast);
        const float* rows = g.row_start != nullptr ? g.row_start + ic : nullptr;
        const bool finish = pc + kc == g.k && g.finish.kind != GemmFinish<float>::Kind::None;
        for (Index jr = 0; jr < nc; jr += kNr) {
          for (Index ir = 0; ir < mc; ir += kMr) {
            const GemmFinish<float> tile_finish = g.finish.at(ic + ir, jc + jr);
            run_tile(kp, pa + ir * kp, pb + jr * kp, g.c + (ic + ir) + (jc + jr) * g.ldc, g.ldc,
                     std::min(kMr, mc - ir), std::min(kNr, nc - jr), g.accumulate || pc > 0,
                     rows != nullptr ? rows + ir : nullptr, finish ? &tile_finish : nullptr, fast);
          }
        }
      }
    }
  }
}

// Grows `ws` to what a product of this size needs on one thread (as inside a parallel region), so
// that a caller can size it before the first product instead of during it.
inline void reserve_gemm_bf16(GemmWorkspace& ws, Index m, Index n, Index k) {
  ws.reserve(1, packed_a_words(m, k), packed_b_words(n, k));
}

// How C is shared among threads: the longer side is cut into parts of whole tiles (each thread
// packs all of the other operand, so the shorter side's operand is the one packed twice), or of
// half tiles of 16 rows when C has fewer 32-row tiles than threads.
struct GemmSplit {
  bool along_n;
  Index extent, unit, units;
  int parts;

  GemmSplit(Index m, Index n, int threads)
      : along_n(n >= m),
        extent(along_n ? n : m),
        unit(along_n ? kNr : m < threads * kMr ? 16 : kMr),
        units((extent + unit - 1) / unit),
        parts(static_cast<int>(std::min<Index>(threads, units))) {}

  std::pair<Index, Index> range(int part) const {
    return {std::min(extent, units * part / parts * unit), std::min(extent, units * (part + 1) / parts * unit)};
  }
  Index largest() const { return (units + parts - 1) / parts * unit; }
};

namespace gemm_bf16_impl {

// gemm_bf16 and gemm_bf16_finished: C = op(A) op(B), C += op(A) op(B) (accumulate) or
// C = r 1^T + op(A) op(B) (rows: r, when not accumulating), each element then finished.
inline void product(Index m, Index n, Index k, const float* a, Index lda, bool transpose_a, const float* b,
                    Index ldb, bool transpose_b, float* c, Index ldc, bool accumulate, const float* rows,
                    const GemmFinish<float>& finish, GemmWorkspace& ws, Bf16Path path) {
  MLP_ASSERT(m >= 0 && n >= 0 && k >= 0, "gemm_bf16: negative size");
  MLP_ASSERT(ldc >= std::max<Index>(1, m) && lda >= std::max<Index>(1, transpose_a ? k : m) &&
                 ldb >= std::max<Index>(1, transpose_b ? n : k),
             "gemm_bf16: leading dimension smaller than the rows");
  MLP_ASSERT(!(accumulate && rows != nullptr), "gemm_bf16: C both accumulated onto and started from rows");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (Index j = 0; j < n; ++j) {
      for (Index i = 0; i < m; ++i) {
        float& x = c[i + j * ldc];
        x = finish(accumulate ? x : rows != nullptr ? rows[i] : 0.0f, i, j);
      }
    }
    return;
  }
  const GemmProblem g{m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, accumulate, rows, finish};
  const bool fast = path == Bf16Path::Auto && gemm_bf16_fast_path_available();
  const GemmSplit split(m, n, product_threads(m, n, k, 4e6));
  const int parts = split.parts;
  const Index most = split.largest();
  ws.reserve(parts, packed_a_words(split.along_n ? m : most, k), packed_b_words(split.along_n ? most : n, k));
  const auto run = [&](int part, int thread) {
    const auto [p0, p1] = split.range(part);
    if (split.along_n) {
      gemm_bf16_block(g, 0, m, p0, p1, ws.packed_a(thread), ws.packed_b(thread), fast);
    } else {
      gemm_bf16_block(g, p0, p1, 0, n, ws.packed_a(thread), ws.packed_b(thread), fast);
    }
  };
#ifdef _OPENMP
  if (parts > 1) {
    _Pragma("omp parallel num_threads(parts)")
    {
      const int thread = omp_get_thread_num();
      for (int part = thread; part < parts; part += omp_get_num_threads()) run(part, thread);
    }
    return;
  }
#endif
  run(0, 0);
}

}  // namespace gemm_bf16_impl

// C = op(A) op(B) (accumulate: C += op(A) op(B)). a is m x k (k x m when transpose_a), b is k x n
// (n x k when transpose_b), c is m x n; lda, ldb, ldc are the column strides. k == 0 sets C to zero
// (or leaves it). C must not overlap A or B.
inline void gemm_bf16(Index m, Index n, Index k, const float* a, Index lda, bool transpose_a, const float* b,
                      Index ldb, bool transpose_b, float* c, Index ldc, bool accumulate, GemmWorkspace& ws,
                      Bf16Path path = Bf16Path::Auto) {
  gemm_bf16_impl::product(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, accumulate, nullptr, {}, ws,
                          path);
}

// C = r 1^T + op(A) op(B) with r = rows[0 .. m) (or +0 without rows), each element then finished
// (as gemm_finished in gemm.hpp): the bits of filling C with r, accumulating onto it and passing
// over C with the finish.
inline void gemm_bf16_finished(Index m, Index n, Index k, const float* a, Index lda, bool transpose_a,
                               const float* b, Index ldb, bool transpose_b, const float* rows, float* c, Index ldc,
                               const GemmFinish<float>& finish, GemmWorkspace& ws, Bf16Path path = Bf16Path::Auto) {
  gemm_bf16_impl::product(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, false, rows, finish, ws, path);
}

}  // namespace mlp::detail
