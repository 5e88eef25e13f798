// Whether a matrix argument lies in memory a layer or model returned earlier: a forward given its
// own output buffer as input writes that buffer while it reads it (lin.forward(lin.forward(x))
// gave wrong numbers without a word).
#pragma once

#include "mlp/core/types.hpp"

#include <functional>

namespace mlp::detail {

// x's elements and [begin, begin + size) share memory.
template <class S>
bool overlaps(const Eigen::Ref<const Matrix<S>>& x, const S* begin, Index size) {
  if (begin == nullptr || size == 0 || x.size() == 0) return false;
  const S* x_end = x.data() + x.outerStride() * (x.cols() - 1) + x.rows();
  const std::less<const S*> before;  // (a total order, also across allocations)
  return before(x.data(), begin + size) && before(begin, x_end);
}

}  // namespace mlp::detail
