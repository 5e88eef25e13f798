// The operands of a GEMM C = op(A) op(B) (column-major float, op(X) = X or X^T) and the blocks of
// them that the packing routines read (gemm_bf16.hpp, gemm_f32_kernel.hpp).
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

// What a product does to each element of C once its sum is complete: nothing, a ReLU (max(c, 0)
// as std::max computes it: a NaN or -0 stays), or a ReLU's backward mask (c where the mask's
// element is > 0, else +0, as detail::relu_mask): the pass over C a ReLU after the product would
// make, done while the element is still in a register.
template <class S>
struct GemmFinish {
  enum class Kind { None, Relu, ReluMask };
  Kind kind = Kind::None;
  const S* mask = nullptr;  // ReluMask: an m x n matrix, column-major,
  Index ld_mask = 0;        // with this column stride

  static GemmFinish relu() { return {Kind::Relu, nullptr, 0}; }
  static GemmFinish relu_mask(const S* mask, Index ld_mask) { return {Kind::ReluMask, mask, ld_mask}; }
  // The same for the block of C whose element (0, 0) is C(i, j).
  GemmFinish at(Index i, Index j) const {
    return kind == Kind::ReluMask ? GemmFinish{kind, mask + i + j * ld_mask, ld_mask} : *this;
  }
  // Element (i, j) of the block, finished.
  S operator()(S c, Index i, Index j) const {
    if (kind == Kind::Relu) return c < S(0) ? S(0) : c;
    if (kind == Kind::ReluMask) return mask[i + j * ld_mask] > S(0) ? c : S(0);
    return c;
  }
};

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
  GemmFinish<float> finish = {};
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
