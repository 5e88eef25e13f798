// Whether a matrix argument shares memory with one a call writes: a layer's forward given its own
// output buffer as input wrote it while reading it (lin.forward(lin.forward(x)) gave wrong numbers
// without a word), and matmul's C must not share an element with A or B.
#pragma once

#include "mlp/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>

namespace mlp::detail {

// A column-major block: `cols` columns of `rows` values, `stride` apart.
template <class S>
struct Block {
  const S* data;
  Index rows, cols, stride;
  template <class M>
  static Block of(const M& m) {
    return {m.data(), m.rows(), m.cols(), m.outerStride()};
  }
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

// x's elements and the contiguous values [begin, begin + size) share an element.
template <class S>
bool overlaps(const Eigen::Ref<const Matrix<S>>& x, const S* begin, Index size) {
  return blocks_share(Block<S>::of(x), Block<S>{begin, size, 1, size});
}

}  // namespace mlp::detail
