// Matrix products in the layers' own precision (float or double):
//
//     C = op(A) op(B)   or   C += op(A) op(B),     op(X) = X or X^T,   all column-major,
//
// C is m x n, op(A) m x k, op(B) k x n; lda, ldb, ldc are the column strides.
//
// Float products on a CPU with AVX512F run the library's own kernel (gemm_f32_kernel.hpp): each
// element is one chain of fused multiply-adds in the order of k, whatever the blocking or the
// threads. Everything else (double, or a CPU without AVX-512, or GemmKernel::Eigen) runs Eigen's
// kernel, as follows.
//
// Why not simply `C.noalias() += A * B`: Eigen's own threads split a product in a way that changes
// how each element's sum is blocked (its blocking depends on the thread count), and they wait for
// each other in spin loops, so a product slows to a crawl when another process takes one of the
// cores. Here the caller's threads each compute whole columns of C (whole rows for a C taller than
// wide) with Eigen's single-threaded kernel and their own packing buffers, and every part uses the
// blocking of the whole product (kc, mc, nc) with boundaries on multiples of the kernel's register
// block (4 columns, or 3 packets of rows). Each element of
// C is then computed by exactly the instructions of a single-threaded product: the same bits at any
// thread count (tests/test_gemm.cpp checks this over many shapes), the same as Eigen's own product
// on one thread, and no waiting inside a product. After the first call at a given size, a call
// allocates nothing, at that or any smaller thread count.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/threads.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/cpu_features.hpp"
#include "mlp/detail/gemm_f32_kernel.hpp"
#include "mlp/detail/parallel.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

// The same-bits argument above rests on Eigen 3.4's kernel (its blocking and its register block
// of nr columns); another version has to be checked again (tests/test_gemm.cpp) before it is allowed.
static_assert(EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4, "detail/gemm.hpp is written for Eigen 3.4");

namespace mlp::detail {

// Which kernel a float product runs: Auto takes the library's own on a CPU with AVX512F and Eigen's
// elsewhere; Eigen always takes Eigen's (for comparisons). Double products always run Eigen's.
enum class GemmKernel { Auto, Eigen };

// Whether a float product with GemmKernel::Auto runs the library's own kernel on this machine.
inline bool gemm_f32_kernel_available() {
#ifdef MLP_HAVE_AVX512F_CODE
  return cpu_has_avx512f();
#else
  return false;
#endif
}

// Eigen's blocking of one product: depth, rows and columns per packed block.
struct EigenBlocking {
  Index kc = 0, mc = 0, nc = 0;
};

template <class S>
EigenBlocking eigen_blocking(Index m, Index n, Index k) {
  // Exactly what Eigen's product computes for one thread (gemm_blocking_space with l3 blocking).
  EigenBlocking b{k, m, n};
  Eigen::internal::computeProductBlockingSizes<S, S, 1, Index>(b.kc, b.mc, b.nc, Index{1});
  return b;
}

// Packing buffers per thread, 64-byte aligned as the kernel's packet stores need, grown only.
// (operator new, not Eigen's malloc-based allocator, so that allocation counters see them.)
template <class S>
class GemmBuffers {
 public:
  void reserve(int threads, Index a_size, Index b_size) {
    if (static_cast<int>(parts_.size()) < threads) parts_.resize(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      Part& p = parts_[static_cast<std::size_t>(t)];
      grow(p.a, p.a_size, a_size);
      grow(p.b, p.b_size, b_size);
    }
  }
  S* a(int thread) { return parts_[static_cast<std::size_t>(thread)].a.get(); }
  S* b(int thread) { return parts_[static_cast<std::size_t>(thread)].b.get(); }

 private:
  struct Free {
    void operator()(S* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  using Values = std::unique_ptr<S, Free>;
  struct Part {
    Values a, b;
    Index a_size = 0, b_size = 0;
  };
  static void grow(Values& v, Index& have, Index need) {
    if (have >= need) return;
    v.reset(static_cast<S*>(::operator new(static_cast<std::size_t>(need) * sizeof(S), std::align_val_t{64})));
    have = need;
  }
  std::vector<Part> parts_;
};

// A fixed blocking with caller-owned buffers, which Eigen's kernel then uses instead of allocating.
template <class S>
class FixedBlocking : public Eigen::internal::level3_blocking<S, S> {
 public:
  FixedBlocking(const EigenBlocking& b, S* a, S* packed_b) {
    this->m_kc = b.kc;
    this->m_mc = b.mc;
    this->m_nc = b.nc;
    this->m_blockA = a;
    this->m_blockB = packed_b;
  }
};

// Buffers for a product of this size on one thread, with either kernel, sized before the first
// product (so that the first product allocates nothing either).
template <class S>
void reserve_gemm(GemmBuffers<S>& buffers, Index m, Index n, Index k) {
  const EigenBlocking b = eigen_blocking<S>(m, n, k);
  Index a = b.kc * std::min(m, b.mc), bb = b.kc * std::min(n, b.nc);
  if (std::is_same_v<S, float> && k > 0 && gemm_f32_kernel_available()) {
    const F32Blocking f;
    a = std::max(a, f.a_floats(m, k));
    bb = std::max(bb, f.b_floats(n, k));
  }
  buffers.reserve(1, a, bb);
}

namespace gemm_impl {

// C's rows (or columns) cut into `parts` runs of whole units (a kernel's register block); the last
// part also takes what is left over.
struct Split {
  Index unit, extent, units;
  int parts;
  Split(Index unit_, Index extent_, int threads_)
      : unit(unit_), extent(extent_), units(std::max<Index>(1, extent_ / unit_)),
        parts(static_cast<int>(std::min<Index>(threads_, units))) {}
  Index lo(int part) const { return units * part / parts * unit; }
  Index hi(int part) const { return part + 1 == parts ? extent : lo(part + 1); }
  // The largest part against an even share (with Eigen's 48-row blocks, 256 rows split 96 + 160).
  double imbalance() const { return static_cast<double>(hi(parts - 1) - lo(parts - 1)) * parts / extent; }
};

// run(part, thread) for parts 0 .. parts-1 on min(parts, thread_count()) threads.
template <class Run>
void run_parts(int parts, Run&& run) {
#ifdef _OPENMP
  if (parts > 1) {
    parallel_region(parts, [&] {
      const int thread = omp_get_thread_num();
      for (int part = thread; part < parts; part += omp_get_num_threads()) run(part, thread);
    });
    return;
  }
#endif
  MLP_ASSERT(parts == 1, "run_parts: several parts without OpenMP");
  (void)parts;
  run(0, 0);
}

#ifdef MLP_HAVE_AVX512F_CODE
// The library's own kernel (gemm_f32_kernel.hpp): the longer side of C is cut between the threads
// in whole tiles, so that each thread packs only its share of the larger operand; any cut gives the
// same bits.
inline void gemm_f32(const GemmProblem& g, GemmBuffers<float>& buffers) {
  const F32Blocking bl;
  const bool along_m = g.m >= g.n;
  const Split split(along_m ? kF32Mr : kF32Nr, along_m ? g.m : g.n, product_threads(g.m, g.n, g.k, 2e6));
  // Every part's buffers are sized for one part doing it all (see gemm below).
  buffers.reserve(split.parts, bl.a_floats(g.m, g.k), bl.b_floats(g.n, g.k));
  run_parts(split.parts, [&](int part, int thread) {
    const Index lo = split.lo(part), hi = split.hi(part);
    gemm_f32_block(g, along_m ? lo : 0, along_m ? hi : g.m, along_m ? 0 : lo, along_m ? g.n : hi,
                   buffers.a(thread), buffers.b(thread), bl);
  });
}
#endif

template <class S, int AOrder, int BOrder>
void run_part(Index m, Index n, Index k, const S* a, Index lda, const S* b, Index ldb, S* c, Index ldc,
              const EigenBlocking& blocking, S* packed_a, S* packed_b) {
  using Kernel = Eigen::internal::general_matrix_matrix_product<Index, S, AOrder, false, S, BOrder, false,
                                                                Eigen::ColMajor, 1>;
  FixedBlocking<S> fixed(blocking, packed_a, packed_b);
  Kernel::run(m, n, k, a, lda, b, ldb, c, 1, ldc, S(1), fixed, nullptr);
}

template <class S>
void run_part(bool ta, bool tb, Index m, Index n, Index k, const S* a, Index lda, const S* b, Index ldb, S* c,
              Index ldc, const EigenBlocking& blocking, S* packed_a, S* packed_b) {
  constexpr int Col = Eigen::ColMajor, Row = Eigen::RowMajor;
  if (!ta && !tb) run_part<S, Col, Col>(m, n, k, a, lda, b, ldb, c, ldc, blocking, packed_a, packed_b);
  if (!ta && tb) run_part<S, Col, Row>(m, n, k, a, lda, b, ldb, c, ldc, blocking, packed_a, packed_b);
  if (ta && !tb) run_part<S, Row, Col>(m, n, k, a, lda, b, ldb, c, ldc, blocking, packed_a, packed_b);
  if (ta && tb) run_part<S, Row, Row>(m, n, k, a, lda, b, ldb, c, ldc, blocking, packed_a, packed_b);
}

// gemm and gemm_finished: C = op(A) op(B), C += op(A) op(B) (accumulate) or C = r 1^T + op(A) op(B)
// (rows: r, when not accumulating), each element then finished.
template <class S>
void product(Index m, Index n, Index k, const S* a, Index lda, bool transpose_a, const S* b, Index ldb,
             bool transpose_b, S* c, Index ldc, bool accumulate, const S* rows, const GemmFinish<S>& finish,
             GemmBuffers<S>& buffers, GemmKernel kernel) {
  MLP_ASSERT(m >= 0 && n >= 0 && k >= 0, "gemm: negative size");
  MLP_ASSERT(ldc >= std::max<Index>(1, m) && lda >= std::max<Index>(1, transpose_a ? k : m) &&
                 ldb >= std::max<Index>(1, transpose_b ? n : k),
             "gemm: leading dimension smaller than the rows");
  MLP_ASSERT(!(accumulate && rows != nullptr), "gemm: C both accumulated onto and started from rows");
  if (m == 0 || n == 0) return;
#ifdef MLP_HAVE_AVX512F_CODE
  if constexpr (std::is_same_v<S, float>) {
    if (k > 0 && kernel == GemmKernel::Auto && gemm_f32_kernel_available()) {
      gemm_f32({m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, accumulate, rows, finish}, buffers);
      return;
    }
  }
#endif
  (void)kernel;
  const EigenBlocking blocking = eigen_blocking<S>(m, n, k);
  // Parts are runs of whole register blocks: nr columns (4 in Eigen 3.4), or, for a C at least
  // twice as tall as wide whose rows split evenly (within 10%), mr rows (3 packets: 48 floats with
  // AVX-512). Then each part packs only its share of the larger operand (A for a tall C: the
  // weights in Linear's forward and dL/dx, the lowered input in Conv2d's forward), which two column
  // parts would both pack whole. The last part also takes what is left over, exactly as the whole
  // product would: every element sees the register block and depth blocks it would see in one
  // product, so the bits do not depend on the split.
  using Traits = Eigen::internal::gebp_traits<S, S>;
  const int threads = product_threads(m, n, k, 2e6);
  const Split by_rows(Traits::mr, m, threads);
  const bool along_m = m >= 2 * n && by_rows.parts == threads && by_rows.imbalance() <= 1.1;
  const Split split = along_m ? by_rows : Split(Traits::nr, n, threads);
  const int parts = split.parts;
  // Every part's buffers are sized for one part doing it all, so that a change of the thread count
  // (the Trainer's governor) never grows them.
  buffers.reserve(parts, blocking.kc * std::min(m, blocking.mc), blocking.kc * std::min(n, blocking.nc));
  const auto run = [&](int part, int thread) {
    const Index lo = split.lo(part), hi = split.hi(part);
    const Index part_rows = along_m ? hi - lo : m, cols = along_m ? n : hi - lo;
    S* c0 = along_m ? c + lo : c + lo * ldc;
    if (!accumulate) {  // Eigen's kernel accumulates onto C
      const S* r0 = rows == nullptr ? nullptr : along_m ? rows + lo : rows;
      for (Index j = 0; j < cols; ++j) {
        S* cj = c0 + j * ldc;
        if (r0 == nullptr) {
          std::fill(cj, cj + part_rows, S(0));
        } else {
          std::copy(r0, r0 + part_rows, cj);
        }
      }
    }
    if (k > 0) {
      const S* a0 = !along_m ? a : transpose_a ? a + lo * lda : a + lo;
      const S* b0 = along_m ? b : transpose_b ? b + lo : b + lo * ldb;
      run_part(transpose_a, transpose_b, part_rows, cols, k, a0, lda, b0, ldb, c0, ldc, blocking, buffers.a(thread),
               buffers.b(thread));
    }
    if (finish.kind != GemmFinish<S>::Kind::None) {  // the part's own block, while it is in cache
      const GemmFinish<S> block = finish.at(along_m ? lo : 0, along_m ? 0 : lo);
      for (Index j = 0; j < cols; ++j)
        for (Index i = 0; i < part_rows; ++i) c0[i + j * ldc] = block(c0[i + j * ldc], i, j);
    }
  };
  run_parts(parts, run);
}

}  // namespace gemm_impl

// C = op(A) op(B) (accumulate: C += op(A) op(B)). a is m x k (k x m when transpose_a), b is k x n
// (n x k when transpose_b), c is m x n. k == 0 sets C to zero (or leaves it). C must not overlap A
// or B.
template <class S>
void gemm(Index m, Index n, Index k, const S* a, Index lda, bool transpose_a, const S* b, Index ldb, bool transpose_b,
          S* c, Index ldc, bool accumulate, GemmBuffers<S>& buffers, GemmKernel kernel = GemmKernel::Auto) {
  gemm_impl::product(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, accumulate, static_cast<const S*>(nullptr),
                     GemmFinish<S>{}, buffers, kernel);
}

// C = r 1^T + op(A) op(B) with r = rows[0 .. m) (+0 without rows), each element then finished
// (GemmFinish: a ReLU, or a ReLU's backward mask). Every element's sum starts from its row's value
// of r instead of +0 (Linear's bias) and is finished before it is stored: the bits of filling C's
// columns with r, accumulating the product onto them and passing over C with the finish, without
// those passes (each tile starts from r in its registers and finishes there; Eigen's kernel fills
// and finishes each thread's own block of C).
template <class S>
void gemm_finished(Index m, Index n, Index k, const S* a, Index lda, bool transpose_a, const S* b, Index ldb,
                   bool transpose_b, const S* rows, S* c, Index ldc, const GemmFinish<S>& finish,
                   GemmBuffers<S>& buffers, GemmKernel kernel = GemmKernel::Auto) {
  gemm_impl::product(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, c, ldc, false, rows, finish, buffers, kernel);
}

}  // namespace mlp::detail
