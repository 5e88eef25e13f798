// The contract every layer implements, and the non-owning view the optimizer sees.
#pragma once

#include "mlp/core/types.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlp {

// A view of one tensor owned by a layer: its value, its gradient (nullptr for buffers such as
// BatchNorm's running statistics), its shape, and whether weight decay / L1 / L2 apply to it
// (true for Linear weights only). Optimizer state is index-aligned with a list of these.
template <class S = float>
struct TensorRef {
  std::string name;
  S* value = nullptr;
  S* grad = nullptr;
  Index rows = 0;
  Index cols = 0;
  bool decay = false;

  Index size() const { return rows * cols; }
  Eigen::Map<Matrix<S>> value_map() const { return {value, rows, cols}; }
  Eigen::Map<Matrix<S>> grad_map() const { return {grad, rows, cols}; }
};

template <class S>
TensorRef<S> tensor_ref(std::string name, Matrix<S>& value, Matrix<S>* grad, bool decay) {
  return {std::move(name), value.data(), grad ? grad->data() : nullptr, value.rows(), value.cols(),
          decay};
}

// A layer maps an in x B batch to an out x B batch. forward caches in members what backward needs
// and returns a member buffer (valid until the next forward); backward must follow a
// forward(., Mode::Train) and OVERWRITES the parameter gradients (there is no zero_grad). Layers sum
// over the batch and never average: the loss owns the 1/B.
template <class S = float>
class Layer {
 public:
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  virtual ~Layer() = default;

  // x: in x B. Returns y: out x B.
  virtual const Matrix<S>& forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) = 0;
  // dy: out x B (dL/dy). Returns dL/dx: in x B (empty when input gradients are switched off).
  virtual const Matrix<S>& backward(const Eigen::Ref<const Matrix<S>>& dy) = 0;

  virtual std::vector<TensorRef<S>> parameters() { return {}; }  // "weight", "bias"
  virtual std::vector<TensorRef<S>> buffers() { return {}; }     // "running_mean", "running_var"
  virtual std::string_view kind() const = 0;                     // "Linear", "ReLU", ...
  virtual std::string describe() const { return std::string(kind()); }

  // Layers that draw random numbers in forward (Dropout) expose their generator state, so that a
  // checkpoint resumes bit for bit and a gradient check can replay the same mask.
  virtual bool has_random_state() const { return false; }
  virtual std::uint64_t random_state() const { return 0; }
  virtual void set_random_state(std::uint64_t /*state*/) {}

  // The first layer of a network does not need dL/dx; skipping it saves a matrix product.
  void set_input_grad(bool enabled) { input_grad_ = enabled; }
  bool input_grad() const { return input_grad_; }

 protected:
  bool input_grad_ = true;
};

}  // namespace mlp
