// Sums over the batch (the columns of a features x B matrix), written as contiguous column
// additions: with one sample per column these vectorize, where Eigen's rowwise().sum() walks the
// matrix with a stride.
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

// out = sum_j a.col(j).  out must have a.rows() rows.
template <class S, class A>
void sum_columns(const Eigen::MatrixBase<A>& a, Matrix<S>& out) {
  out.col(0) = a.col(0);
  for (Index j = 1; j < a.cols(); ++j) out.col(0) += a.col(j);
}

// out = sum_j a.col(j) .* b.col(j).
template <class S, class A, class B>
void sum_column_products(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b, Matrix<S>& out) {
  out.col(0) = a.col(0).cwiseProduct(b.col(0));
  for (Index j = 1; j < a.cols(); ++j) out.col(0) += a.col(j).cwiseProduct(b.col(j));
}

}  // namespace mlp::detail
