// A matrix whose owner changes it only together with a version counter: while *version == value,
// it holds what it held when `value` was read. A DataLoader's batches carry one (Batch::source), so
// that a Sequential's first layer reads the batch again in backward instead of copying it
// (Sequential::forward(const VersionedMatrix&, Mode)); a backward after the owner moved on is
// refused instead of reading another batch. Like a Batch, it points into its owner, which has to
// outlive the backward.
#pragma once

#include "mlp/core/types.hpp"

#include <cstdint>

namespace mlp {

template <class S = float>
struct VersionedMatrix {
  const Matrix<S>* matrix = nullptr;
  const std::uint64_t* version = nullptr;
  std::uint64_t value = 0;

  // Whether the matrix still holds what it held when `value` was read.
  bool current() const { return matrix != nullptr && version != nullptr && *version == value; }
};

}  // namespace mlp
