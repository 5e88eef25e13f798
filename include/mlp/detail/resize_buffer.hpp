// Resizing a layer's batch-sized buffers so that an allocation that fails leaves them empty.
//
// Eigen's resize frees the old storage before it allocates the new one, and when the allocation
// throws std::bad_alloc it leaves the freed pointer in the matrix: the matrix's destructor then
// frees it a second time (a crash while the exception unwinds; found with a convolution too large
// for this machine's memory at evaluation batches of 1000). Emptying the matrix first leaves a
// null pointer behind a failed allocation. Shapes of the same size keep their storage, as in Eigen.
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

template <class M>
void resize_buffer(M& m, Index rows, Index cols) {
  if (m.rows() == rows && m.cols() == cols) return;
  if (m.size() != rows * cols) m.resize(0, 0);
  m.resize(rows, cols);
}

// m = x, through resize_buffer.
template <class M, class X>
void assign_buffer(M& m, const X& x) {
  resize_buffer(m, x.rows(), x.cols());
  m = x;
}

}  // namespace mlp::detail
