// ReLU's backward mask, out = (y > 0) ? g : 0, as a plain loop: Eigen 3.4 evaluates select() one
// scalar at a time (Select has no packet access), and the compiler vectorizes this loop into
// compares and masked moves. The values are select()'s exactly.
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/resize_buffer.hpp"

namespace mlp::detail {

template <class S>
void relu_mask(const S* __restrict y, const S* __restrict g, S* __restrict out, Index n) {
  for (Index i = 0; i < n; ++i) out[i] = y[i] > S(0) ? g[i] : S(0);
}

// out = (y > 0) ? g : 0 over a whole batch (out resized to g's shape), columns shared by the
// library's threads: a fused layer's dL/d(its output) from the ReLU's dy, read afterwards exactly
// as the ReLU's own dx would be.
template <class S>
void relu_mask_batch(const Matrix<S>& y, const Eigen::Ref<const Matrix<S>>& g, Matrix<S>& out) {
  resize_buffer(out, g.rows(), g.cols());
  for_each_column_range(g.rows(), g.cols(), [&](Index begin, Index end) {
    for (Index s = begin; s < end; ++s) relu_mask(y.col(s).data(), g.col(s).data(), out.col(s).data(), g.rows());
  });
}

}  // namespace mlp::detail
