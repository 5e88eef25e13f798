// Whether a matrix argument lies in memory a layer or model returned earlier: a forward given its
// own output buffer as input writes that buffer while it reads it (lin.forward(lin.forward(x))
// gave wrong numbers without a word).
#pragma once

#include "mlp/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>

namespace mlp::detail {

// x's elements and [begin, begin + size) share an address range.
template <class S>
bool overlaps(const Eigen::Ref<const Matrix<S>>& x, const S* begin, Index size) {
  if (begin == nullptr || size == 0 || x.size() == 0) return false;
  const S* x_end = x.data() + x.outerStride() * (x.cols() - 1) + x.rows();
  const std::less<const S*> before;  // (a total order, also across allocations)
  return before(x.data(), begin + size) && before(begin, x_end);
}

// A column-major block: `cols` columns of `rows` values, `stride` apart.
template <class S>
struct Block {
  const S* data;
  Index rows, cols, stride;
  Index span() const { return rows == 0 || cols == 0 ? 0 : stride * (cols - 1) + rows; }
};

// Whether two blocks share an element, exactly: two row blocks of one matrix interleave their
// columns without sharing any (out.bottomRows(m) and out.topRows(n)).
template <class S>
bool blocks_share(const Block<S>& p, const Block<S>& q) {
  const std::less<const S*> before;
  const auto ranges_meet = [&](const S* a, Index a_size, const S* b, Index b_size) {
    return a_size > 0 && b_size > 0 && before(a, b + b_size) && before(b, a + a_size);
  };
  if (!ranges_meet(p.data, p.span(), q.data, q.span())) return false;
  for (Index j = 0; j < p.cols; ++j) {
    const S* column = p.data + j * p.stride;
    if (!ranges_meet(column, p.rows, q.data, q.span())) continue;
    // (in q's range, so in q's allocation: the difference is defined) q's columns k whose values
    // [k stride, k stride + rows) meet [at, at + p.rows)
    const std::ptrdiff_t at = column - q.data;
    const Index first = std::max<Index>(0, (at - q.rows + 1 + q.stride - 1) / q.stride);
    const Index last = std::min<Index>(q.cols - 1, (at + p.rows - 1) / q.stride);
    for (Index k = first; k <= last; ++k) {
      if (k * q.stride < at + p.rows && at < k * q.stride + q.rows) return true;
    }
  }
  return false;
}

}  // namespace mlp::detail
