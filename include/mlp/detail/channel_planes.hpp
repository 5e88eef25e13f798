// A batch of images seen one channel at a time: with x of C * P rows x B columns (P = H x W pixels,
// one sample per column in C, H, W order), channel c of sample s is the contiguous block
// x.col(s).segment(c * P, P). BatchNorm2d's statistics are sums over a channel's B blocks: each
// block is summed in the scalar type (vectorized), the block sums are added in double, as PyTorch
// accumulates its CPU batch statistics in double. Working a channel at a time keeps its B x P
// values in cache between the passes over them, and lets channels go to different threads with
// results that do not depend on the thread count.
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

// sum over samples s and pixels of a(c, ., s)
template <class A>
double plane_sum(const Eigen::MatrixBase<A>& a, Index c, Index pixels) {
  double sum = 0.0;
  for (Index s = 0; s < a.cols(); ++s) sum += static_cast<double>(a.col(s).segment(c * pixels, pixels).sum());
  return sum;
}

// sum of (a - mean)^2 over channel c
template <class A, class S>
double plane_squared_deviation(const Eigen::MatrixBase<A>& a, Index c, Index pixels, S mean) {
  double sum = 0.0;
  for (Index s = 0; s < a.cols(); ++s) {
    sum += static_cast<double>((a.col(s).segment(c * pixels, pixels).array() - mean).square().sum());
  }
  return sum;
}

}  // namespace mlp::detail
