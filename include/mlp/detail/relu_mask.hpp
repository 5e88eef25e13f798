// ReLU's backward mask, out = (y > 0) ? g : 0, as a plain loop: Eigen 3.4 evaluates select() one
// scalar at a time (Select has no packet access), and the compiler vectorizes this loop into
// compares and masked moves. The values are select()'s exactly.
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

template <class S>
void relu_mask(const S* __restrict y, const S* __restrict g, S* __restrict out, Index n) {
  for (Index i = 0; i < n; ++i) out[i] = y[i] > S(0) ? g[i] : S(0);
}

}  // namespace mlp::detail
