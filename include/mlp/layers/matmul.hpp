// Matrix products for a layer of one's own, as Linear and Conv2d run theirs: on the library's
// threads (thread_count(), a ThreadLimit in scope, the Trainer's thread governor), the same bits at
// any thread count, and in the precision a Sequential's set_matmul_precision gives its layers
// (BFloat16: bf16 inputs, fp32 sums; float layers only). Eigen's own product (y.noalias() = W * x)
// runs on Eigen's threads, and its bits depend on their count.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/precision.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/gemm.hpp"
#include "mlp/detail/gemm_bf16.hpp"
#include "mlp/detail/overlaps.hpp"

#include <type_traits>

namespace mlp {

struct MatmulOptions {
  bool transpose_a = false;  // op(A) = A^T
  bool transpose_b = false;  // op(B) = B^T
  bool accumulate = false;   // C += op(A) op(B) instead of C = op(A) op(B)
  MatmulPrecision precision = MatmulPrecision::Float32;
};

template <class S>
class MatmulWorkspace;

// C = op(A) op(B) (or C += with accumulate). C has to have its shape already and must not share
// memory with A or B; a shape that does not fit is an InvalidArgument naming the three.
template <class S>
void matmul(Eigen::Ref<Matrix<S>> c, const Eigen::Ref<const Matrix<S>>& a, const Eigen::Ref<const Matrix<S>>& b,
            MatmulWorkspace<S>& workspace, const MatmulOptions& options = {});

// The packing buffers of a layer's products: one per layer (a member), given to every matmul call,
// so that a training step allocates nothing once they have grown.
template <class S = float>
class MatmulWorkspace {
 private:
  friend void matmul<S>(Eigen::Ref<Matrix<S>>, const Eigen::Ref<const Matrix<S>>&, const Eigen::Ref<const Matrix<S>>&,
                        MatmulWorkspace<S>&, const MatmulOptions&);
  detail::GemmBuffers<S> buffers_;
  detail::GemmWorkspace bf16_;
};

template <class S>
void matmul(Eigen::Ref<Matrix<S>> c, const Eigen::Ref<const Matrix<S>>& a, const Eigen::Ref<const Matrix<S>>& b,
            MatmulWorkspace<S>& workspace, const MatmulOptions& options) {
  const bool ta = options.transpose_a, tb = options.transpose_b;
  const Index m = ta ? a.cols() : a.rows(), k = ta ? a.rows() : a.cols();
  const Index n = tb ? b.rows() : b.cols(), k_b = tb ? b.cols() : b.rows();
  if (k != k_b || c.rows() != m || c.cols() != n) {
    detail::fail("matmul: op(A) of ", shape_string(m, k), " times op(B) of ", shape_string(k_b, n), " into C of ",
                 shape_string(c.rows(), c.cols()), " (C has to be sized op(A) rows x op(B) columns)");
  }
  using Block = detail::Block<S>;
  detail::require(!detail::blocks_share(Block::of(c), Block::of(a)) && !detail::blocks_share(Block::of(c), Block::of(b)),
                  "matmul: C shares memory with A or B (the product writes C while it reads them)");
  if constexpr (!std::is_same_v<S, float>) {
    detail::require(options.precision != MatmulPrecision::BFloat16,
                    "matmul: bf16 products are for float matrices, not double");
  }
  if (m == 0 || n == 0) return;
  if (k == 0) {  // (the kernels take leading dimensions of at least 1: an empty A may have 0)
    if (!options.accumulate) c.setZero();
    return;
  }
  if constexpr (std::is_same_v<S, float>) {
    if (options.precision == MatmulPrecision::BFloat16) {
      detail::gemm_bf16(m, n, k, a.data(), a.outerStride(), ta, b.data(), b.outerStride(), tb, c.data(),
                        c.outerStride(), options.accumulate, workspace.bf16_);
      return;
    }
  }
  detail::gemm(m, n, k, a.data(), a.outerStride(), ta, b.data(), b.outerStride(), tb, c.data(), c.outerStride(),
               options.accumulate, workspace.buffers_);
}

}  // namespace mlp
