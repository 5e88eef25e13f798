// The operands of a GEMM C = op(A) op(B) (column-major float, op(X) = X or X^T) and the blocks of
// them that the packing routines read (gemm_bf16.hpp, gemm_f32_kernel.hpp).
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

struct GemmProblem {
  Index m, n, k;
  const float* a;
  Index lda;
  bool transpose_a;
  const float* b;
  Index ldb;
  bool transpose_b;
  float* c;
  Index ldc;
  bool accumulate;
  // When C is not accumulated onto: each element's chain starts from its row's value here (m of
  // them, a bias) instead of +0, as if C held them in every column and were accumulated onto.
  const float* row_start = nullptr;
};

// The source of a panel (or of a block of panels): where its elements are, how many hold data.
struct PanelSource {
  const float* src;  // element (0, 0)
  Index se, sk;      // strides between entries and between values of k
  Index count;       // entries with data (<= width for one panel)
  Index kc;          // values of k
};

// Rows i.. (count of them) of op(A), k values pc.. (kc of them).
inline PanelSource a_block(const GemmProblem& g, Index i, Index rows, Index pc, Index kc) {
  return g.transpose_a ? PanelSource{g.a + pc + i * g.lda, g.lda, 1, rows, kc}
                       : PanelSource{g.a + i + pc * g.lda, 1, g.lda, rows, kc};
}

// Columns j.. (count of them) of op(B), k values pc.. (kc of them).
inline PanelSource b_block(const GemmProblem& g, Index j, Index cols, Index pc, Index kc) {
  return g.transpose_b ? PanelSource{g.b + j + pc * g.ldb, 1, g.ldb, cols, kc}
                       : PanelSource{g.b + pc + j * g.ldb, g.ldb, 1, cols, kc};
}

}  // namespace mlp::detail
