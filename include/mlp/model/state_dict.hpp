// A model's state as data: every parameter and buffer by name, in a fixed order.
#pragma once

#include "mlp/core/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mlp {

template <class S = float>
struct NamedTensor {
  std::string name;  // "0.weight", "1.running_mean", ...
  Matrix<S> value;
};

// Ordered like the model's layers (each layer's parameters, then its buffers), as PyTorch does.
template <class S = float>
using StateDict = std::vector<NamedTensor<S>>;

template <class S>
const NamedTensor<S>* find_tensor(const StateDict<S>& state, std::string_view name) {
  for (const auto& tensor : state) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

}  // namespace mlp
