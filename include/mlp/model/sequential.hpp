// A chain of layers that owns them: PyTorch's nn.Sequential with explicit Mode and no autograd.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/model/state_dict.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mlp {

template <class S = float>
class Sequential {
 public:
  Sequential() = default;
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  // Appends a layer. The first layer never computes dL/dx unless set_input_grad(true) is called.
  Layer<S>& add(std::unique_ptr<Layer<S>> layer) {
    detail::require(layer != nullptr, "Sequential::add got a null layer");
    layer->set_input_grad(layers_.empty() ? input_grad_ : true);
    layers_.push_back(std::move(layer));
    outputs_.push_back(nullptr);
    return *layers_.back();
  }
  template <class L, class... Args>
  L& emplace(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  // x: inputs x B -> outputs x B. Returns a buffer owned by the last layer.
  const Matrix<S>& forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    if (layers_.empty()) {
      identity_ = x;
      return identity_;
    }
    const Matrix<S>* h = outputs_[0] = &layers_.front()->forward(x, mode);
    for (std::size_t i = 1; i < layers_.size(); ++i) h = outputs_[i] = &layers_[i]->forward(*h, mode);
    return *h;
  }

  // The first layer whose output in the last forward pass holds a NaN or infinity, or -1: where a
  // divergence shows first.
  int first_non_finite_output() const {
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      if (outputs_[i] != nullptr && !outputs_[i]->allFinite()) return static_cast<int>(i);
    }
    return -1;
  }

  // Eval-mode forward: what inference uses (BatchNorm uses running statistics, dropout is off).
  const Matrix<S>& predict(const Eigen::Ref<const Matrix<S>>& x) { return forward(x, Mode::Eval); }

  // dy: dL/d(output). Overwrites every parameter gradient. Returns dL/dx, which is empty unless
  // set_input_grad(true) was called.
  const Matrix<S>& backward(const Eigen::Ref<const Matrix<S>>& dy) {
    if (layers_.empty()) {
      identity_ = input_grad_ ? Matrix<S>(dy) : Matrix<S>();
      return identity_;
    }
    const Matrix<S>* g = &layers_.back()->backward(dy);
    for (std::size_t i = layers_.size() - 1; i-- > 0;) g = &layers_[i]->backward(*g);
    return *g;
  }

  void set_input_grad(bool enabled) {
    input_grad_ = enabled;
    if (!layers_.empty()) layers_.front()->set_input_grad(enabled);
  }

  // Named views "<layer index>.<name>", e.g. "0.weight", in layer order.
  std::vector<TensorRef<S>> parameters() { return collect(&Layer<S>::parameters); }
  std::vector<TensorRef<S>> buffers() { return collect(&Layer<S>::buffers); }

  Index parameter_count() const {
    Index count = 0;
    for (const auto& p : collect(&Layer<S>::parameters)) count += p.size();
    return count;
  }

  // Copies of every parameter and buffer (each layer's parameters, then its buffers).
  StateDict<S> state_dict() const {
    StateDict<S> state;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      for (const auto& list : {layers_[i]->parameters(), layers_[i]->buffers()}) {
        for (auto& t : list) state.push_back({prefixed(i, t.name), t.value_map()});
      }
    }
    return state;
  }

  // Loads a state dict whose names and shapes match this model exactly. Everything is checked
  // before anything is written, so a mismatch leaves the model unchanged.
  void load_state_dict(const StateDict<S>& state) {
    std::vector<TensorRef<S>> targets = parameters();
    for (auto& b : buffers()) targets.push_back(b);
    for (const auto& t : targets) {
      const NamedTensor<S>* source = find_tensor(state, t.name);
      detail::require(source != nullptr, "load_state_dict: the state dict has no tensor '", t.name,
                      "'");
      detail::require(source->value.rows() == t.rows && source->value.cols() == t.cols,
                      "load_state_dict: shape mismatch for '", t.name, "': the model has ",
                      shape_string(t.rows, t.cols), ", the state dict has ",
                      shape_string(source->value.rows(), source->value.cols()));
    }
    for (const auto& tensor : state) {
      bool known = false;
      for (const auto& t : targets) known = known || t.name == tensor.name;
      detail::require(known, "load_state_dict: unexpected tensor '", tensor.name,
                      "' (the model has no tensor of that name)");
    }
    for (auto& t : targets) t.value_map() = find_tensor(state, t.name)->value;
  }

  // Generator states of the layers that draw random numbers (Dropout), in layer order.
  std::vector<std::uint64_t> random_states() const {
    std::vector<std::uint64_t> states;
    for (const auto& layer : layers_) {
      if (layer->has_random_state()) states.push_back(layer->random_state());
    }
    return states;
  }
  void set_random_states(const std::vector<std::uint64_t>& states) {
    std::size_t k = 0;
    for (const auto& layer : layers_) k += layer->has_random_state() ? 1 : 0;
    detail::require(k == states.size(), "set_random_states: the model has ", k,
                    " random layers, but got ", states.size(), " states");
    k = 0;
    for (auto& layer : layers_) {
      if (layer->has_random_state()) layer->set_random_state(states[k++]);
    }
  }

  std::size_t size() const { return layers_.size(); }
  Layer<S>& operator[](std::size_t i) { return *layers_.at(i); }
  const Layer<S>& operator[](std::size_t i) const { return *layers_.at(i); }

  // One line per layer: "0: Linear(784, 256)".
  std::string describe() const {
    std::string text;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      text += detail::concat(i, ": ", layers_[i]->describe(), "\n");
    }
    return text;
  }

 private:
  static std::string prefixed(std::size_t i, const std::string& name) {
    return std::to_string(i) + "." + name;
  }
  // Layers are owned through pointers, so const methods may still read their views.
  std::vector<TensorRef<S>> collect(std::vector<TensorRef<S>> (Layer<S>::*list)()) const {
    std::vector<TensorRef<S>> all;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      for (auto& t : ((*layers_[i]).*list)()) {
        t.name = prefixed(i, t.name);
        all.push_back(std::move(t));
      }
    }
    return all;
  }

  std::vector<std::unique_ptr<Layer<S>>> layers_;
  std::vector<const Matrix<S>*> outputs_;  // each layer's output buffer after the last forward
  Matrix<S> identity_;  // output of a network without layers
  bool input_grad_ = false;
};

}  // namespace mlp
