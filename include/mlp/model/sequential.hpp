// A chain of layers that owns them: PyTorch's nn.Sequential with explicit Mode and no autograd.
// It is what a model is: any Sequential trains with the Trainer, saves and loads as a model file,
// and is checkpointed and evaluated the same way, whatever layers it holds.
//
// Shapes are checked when the model is built: every layer is bound to its neighbour's output
// shape, and a layer that cannot take it is an error naming both layers and both shapes. The input
// shape comes from the constructor (Sequential<float>(Shape{1, 28, 28}) for images) or, when not
// given, from a first layer that implies one (Linear(784, ...) takes 784 features).
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/core/versioned_matrix.hpp"
#include "mlp/detail/resize_buffer.hpp"
#include "mlp/layers/activations.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/model/state_dict.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlp {

// One layer as a model file stores it: its registered kind and its configuration.
struct LayerSpec {
  std::string kind;
  LayerConfig config;
  bool operator==(const LayerSpec& o) const { return kind == o.kind && config == o.config; }
  bool operator!=(const LayerSpec& o) const { return !(*this == o); }
};

template <class S = float>
class Sequential {
 public:
  Sequential() = default;
  explicit Sequential(const Shape& input) : input_(input) {
    detail::require(input.valid(), "Sequential needs a positive input shape, but got ", input.str());
  }
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  // Appends a layer and binds it to the current output shape (see the top of this file). The
  // first layer never computes dL/dx unless set_input_grad(true) is called.
  Layer<S>& add(std::unique_ptr<Layer<S>> layer) {
    detail::require(layer != nullptr, "Sequential::add got a null layer");
    // (every checkpoint of such a model was written, and refused: "has no kind for layer 1")
    detail::require(!layer->kind().empty(), "Sequential::add: ", layer->describe(), " has an empty kind(); a layer's ",
                    "kind names it in files");
    check_tensor_names(*layer);
    bind_next(*layer);
    layer->set_input_grad(layers_.empty() ? input_grad_ : true);
    layer->set_matmul_precision(precision_);
    layers_.push_back(std::move(layer));
    outputs_.push_back(nullptr);
    owners_.push_back(0);
    fused_.push_back(false);
    masks_.push_back(false);
    planes_.push_back(false);
    return *layers_.back();
  }
  template <class L, class... Args>
  L& emplace(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  // x: input_shape().size() x B -> output_shape().size() x B. Returns a buffer owned by a layer,
  // which x must not be (the forward writes it while reading x: copy it first).
  const Matrix<S>& forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    if (layers_.empty()) {
      detail::assign_buffer(identity_, x);
      return identity_;
    }
    const Matrix<S>* h = &forward_layer(0, x, mode);
    for (std::size_t i = 1; i < layers_.size(); ++i) h = &forward_layer(i, *h, mode);
    return *h;
  }
  // The same with an input its owner keeps as it is until backward (a DataLoader's batch:
  // Batch::source): in Train mode the first layer then reads it again in backward instead of
  // copying it (Layer::can_read_kept_input), and backward() after the owner changed it (the
  // loader's next batch) is refused.
  const Matrix<S>& forward(const VersionedMatrix<S>& x, Mode mode) {
    if (layers_.empty()) return forward(checked_input(x), mode);
    const Matrix<S>* h = &forward_layer(0, x, mode);
    for (std::size_t i = 1; i < layers_.size(); ++i) h = &forward_layer(i, *h, mode);
    return *h;
  }

  // Eval-mode forward: what inference uses (BatchNorm uses running statistics, dropout is off).
  const Matrix<S>& predict(const Eigen::Ref<const Matrix<S>>& x) { return forward(x, Mode::Eval); }

  // dy: dL/d(output), after forward(., Mode::Train) of the same batch. Overwrites every parameter
  // gradient. Returns dL/dx, which is empty unless set_input_grad(true) was called.
  const Matrix<S>& backward(const Eigen::Ref<const Matrix<S>>& dy) {
    if (layers_.empty()) {
      identity_ = input_grad_ ? Matrix<S>(dy) : Matrix<S>();
      return identity_;
    }
    const Matrix<S>* g = &layers_.back()->backward(dy);
    for (std::size_t i = layers_.size() - 1; i-- > 0;) g = &backward_layer(i, *g);
    return *g;
  }

  // Layer i's share of forward() and backward(), for tools that time the layers one at a time
  // (bench_training --breakdown): forward_layer(0, x), then forward_layer(i, output of i - 1) in
  // order; backward_layer(n - 1, dL/d(output)) down to backward_layer(0, ...). Together they do what
  // forward() and backward() do, fusion included. A layer that passes its input through returns g
  // itself, so g has to outlive the result (a temporary is refused); a BatchNorm2d that gives its
  // dL/dx by samples (see set_fuse_relu) reads its g again in the backward_layer below it.
  const Matrix<S>& forward_layer(std::size_t i, const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    if (i == 0) check_not_own_output(x);  // (forward() starts here too)
    return forward_layer(i, x, mode, nullptr);
  }
  // forward_layer(0, x) with an input its owner keeps (see forward(const VersionedMatrix&, Mode)).
  const Matrix<S>& forward_layer(std::size_t i, const VersionedMatrix<S>& x, Mode mode) {
    detail::require(i == 0, "Sequential::forward_layer(", i, ") got the model's input, which layer 0 takes");
    check_not_own_output(checked_input(x));
    return forward_layer(0, checked_input(x), mode, &x);
  }
  const Matrix<S>& backward_layer(std::size_t i, const Matrix<S>& g) {
    detail::require(i < layers_.size(), "Sequential::backward_layer(", i, ") of a model of ", layers_.size(),
                    " layers");
    Layer<S>& layer = *layers_[i];
    if (i + 1 == layers_.size()) return layer.backward(g);  // as backward() starts
    if (i > 0 && fused_[i - 1]) {
      layer.absorb_backward(g);
      return g;
    }
    // Samples given to the layer before (see set_fuse_relu), and pulled from the layer after when g
    // is what it gave and it has run nothing since.
    const bool give = fuse_relu_ && i > 0 && layer.can_give_samples() && layers_[i - 1]->can_take_samples();
    const Layer<S>* giver =
        layer.can_take_samples() && layers_[i + 1]->gave_samples(g) ? layers_[i + 1].get() : nullptr;
    return layer.backward_as(give, giver, [&]() -> const Matrix<S>& {
      // Trusted only when g is what the layer after the ReLU returned masked and has not touched since.
      if (fused_[i]) {
        const bool masked = i + 2 < layers_.size() && masks_[i + 2] && layers_[i + 2]->returned_masked(g);
        return layer.backward_fused(g, masked, masks_[i]);
      }
      if (masks_[i]) return layer.backward_relu_masked(g);
      if (layer.backward_in_place(g)) return i == 0 && !input_grad_ ? empty_ : g;
      return layer.backward(g);
    });
  }
  const Matrix<S>& backward_layer(std::size_t i, Matrix<S>&& g) = delete;

  // Fusion (on by default): a ReLU right after a layer that can apply it in its own passes
  // (BatchNorm1d, BatchNorm2d, Linear) is computed by that layer, which saves the ReLU's pass over
  // the batch forward; a layer after the ReLU that can mask its dL/dx for it (Linear, MaxPool2d)
  // saves the backward pass. The results are the same bits as without it. Both layers stay in the
  // model with their shapes; the first's recorded output (first_non_finite_output, forward_layer)
  // is then the ReLU's. Their own backward() is refused after a fused forward (backward goes
  // through the Sequential). When the layer after the ReLU takes its input a plane at a time (MaxPool2d's
  // 2 x 2 pool after BatchNorm2d, see Layer::can_feed_planes), the fused layer hands it the planes
  // of the ReLU's output instead of writing that output, which is then never written:
  // forward_layer returns the fused layer's and the ReLU's output buffer as it was, and
  // first_non_finite_output() looks at the taker's output for them. A BatchNorm2d after a Conv2d
  // that computes one sample at a time (a first layer) gives it dL/dx a sample at a time instead
  // of writing it (Layer::can_give_samples): backward_layer returns the BatchNorm's dL/dx buffer
  // unwritten, and the Conv2d's backward_layer computes each sample's from the BatchNorm's sums
  // and the g the BatchNorm was given, so that g has to stay as it is until then. A forward
  // decides, and its backward follows that decision. Off: every layer computes on its own.
  void set_fuse_relu(bool enabled) { fuse_relu_ = enabled; }
  bool fuse_relu() const { return fuse_relu_; }

  // The first layer whose output in the last forward pass holds a NaN or infinity, or -1: where a
  // divergence shows first.
  int first_non_finite_output() const {
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      // An output never written (planes handed on) holds a NaN or +infinity exactly when the
      // taker's does: the pool's maximum keeps both, and the ReLU before it makes -infinity 0.
      if (outputs_[i] == nullptr || planes_[i] || (i > 0 && planes_[i - 1])) continue;
      if (!outputs_[i]->allFinite()) return static_cast<int>(i >= 2 && planes_[i - 2] ? i - 2 : i);
    }
    return -1;
  }

  void set_input_grad(bool enabled) {
    input_grad_ = enabled;
    if (!layers_.empty()) layers_.front()->set_input_grad(enabled);
  }
  bool input_grad() const { return input_grad_; }

  // The precision of every layer's matrix products (see core/precision.hpp).
  // All layers or none: a layer that refuses (a double model, a Conv2d forced to PerSample) leaves
  // the model as it was.
  void set_matmul_precision(MatmulPrecision precision) {
    try {
      for (auto& layer : layers_) layer->set_matmul_precision(precision);
    } catch (...) {
      for (auto& layer : layers_) layer->set_matmul_precision(precision_);
      throw;
    }
    precision_ = precision;
  }
  MatmulPrecision matmul_precision() const { return precision_; }

  // Per-sample shapes. The input shape is unset (channels 0) until given or implied by a layer.
  const Shape& input_shape() const { return input_; }
  Shape output_shape() const { return layers_.empty() ? input_ : layers_.back()->output_shape(); }

  // Named views "<layer index>.<name>", e.g. "0.weight", in layer order.
  std::vector<TensorRef<S>> parameters() { return collect(&Layer<S>::parameters); }
  // The parameters of layers first to end - 1 only, named as in parameters(): an optimizer built
  // from them trains those layers and leaves the others as they are (frozen, for fine-tuning).
  std::vector<TensorRef<S>> parameters_of_layers(std::size_t first, std::size_t end) {
    detail::require(first < end && end <= layers_.size(), "parameters_of_layers(", first, ", ", end,
                    "): expected 0 <= first < end <= ", layers_.size(), " (the model's layers)");
    return collect(&Layer<S>::parameters, first, end);
  }
  std::vector<TensorRef<S>> buffers() { return collect(&Layer<S>::buffers); }

  Index parameter_count() const {
    Index count = 0;
    for (const auto& p : collect(&Layer<S>::parameters)) count += p.size();
    return count;
  }

  // Copies of every parameter and buffer (each layer's parameters, then its buffers).
  // The names (unprefixed) and shapes of layer i's parameters and buffers, in state_dict's order.
  std::vector<StateShape> tensor_shapes(std::size_t i) const { return tensor_shapes_of(*layers_.at(i)); }
  static std::vector<StateShape> tensor_shapes_of(Layer<S>& layer) {
    std::vector<StateShape> shapes;
    for (const auto& list : {layer.parameters(), layer.buffers()}) {
      for (const auto& t : list) shapes.push_back({t.name, t.rows, t.cols});
    }
    return shapes;
  }

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
      // BatchNorm's running statistics (a negative variance made every Eval output NaN: accuracy 10%).
      // A NaN is taken, as in a weight: a diverged model's own state has to go back into it (its
      // last state evaluated after the best one); model files refuse non-finite values.
      const auto named = [&t](std::string_view suffix) {
        return t.name.size() >= suffix.size() && t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      const auto values = source->value.array();
      detail::require(!named("running_var") || !(values < S(0)).any(), "load_state_dict: '", t.name,
                      "' holds negative values, which a variance cannot");
      detail::require(!named("num_batches_tracked") || (values >= S(0) && values == values.round()).all(),
                      "load_state_dict: '", t.name, "' is not a count (a whole number >= 0)");
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
    random_states(states);
    return states;
  }
  // The same into `states`, reusing its storage (a training step saves them without allocating).
  void random_states(std::vector<std::uint64_t>& states) const {
    states.clear();
    for (const auto& layer : layers_) {
      if (layer->has_random_state()) states.push_back(layer->random_state());
    }
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

  // Seeds the layers that draw random numbers: the k-th of them gets derive_seed(seed, "dropout", k),
  // the seeds ParameterizedMLP and the programs give their Dropout layers. (Dropout's default seed is
  // 0, and a model file holds no generator state: two such layers drew the same masks.)
  void seed_random_layers(std::uint64_t seed) {
    std::uint64_t k = 0;
    for (auto& layer : layers_) {
      if (layer->has_random_state()) layer->set_random_state(Rng(derive_seed(seed, "dropout", k++)).state());
    }
  }
  // The first two layers that draw random numbers (in Train mode) from generators in the same state,
  // so the same numbers: {i, j}, or nothing.
  std::optional<std::pair<std::size_t, std::size_t>> shared_random_state() const {
    for (std::size_t j = 0; j < layers_.size(); ++j) {
      if (!draws_random(j)) continue;
      for (std::size_t i = 0; i < j; ++i) {
        if (draws_random(i) && layers_[i]->random_state() == layers_[j]->random_state()) return std::pair{i, j};
      }
    }
    return std::nullopt;
  }

  std::size_t size() const { return layers_.size(); }
  bool empty() const { return layers_.empty(); }
  Layer<S>& operator[](std::size_t i) { return *layers_.at(i); }
  const Layer<S>& operator[](std::size_t i) const { return *layers_.at(i); }

  // The layer list a model file stores.
  std::vector<LayerSpec> architecture() const {
    std::vector<LayerSpec> specs;
    for (const auto& layer : layers_) specs.push_back({std::string(layer->kind()), layer->config()});
    return specs;
  }

  // One line per layer: "0: Linear(784, 256)".
  std::string describe() const {
    std::string text;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      text += detail::concat(i, ": ", layers_[i]->describe(), "\n");
    }
    return text;
  }

  // A table like Keras' model.summary(): each layer, its output shape and its parameter count.
  std::string summary() const {
    std::size_t width = 5;
    for (const auto& layer : layers_) width = std::max(width, layer->describe().size());
    const int w = static_cast<int>(width);
    std::string text = row(w, "#", "layer", "output shape", "parameters");
    text += row(w, "", "input", input_.valid() ? input_.str() : "?", "");
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      text += row(w, std::to_string(i), layers_[i]->describe(), layers_[i]->output_shape().str(),
                  std::to_string(layers_[i]->parameter_count()));
    }
    return text + detail::concat("total parameters: ", parameter_count(), "\n");
  }

 private:
  static std::string prefixed(std::size_t i, const std::string& name) {
    return std::to_string(i) + "." + name;
  }
  static std::string row(int width, const std::string& index, const std::string& layer, const std::string& shape,
                         const std::string& params) {
    const int n = std::snprintf(nullptr, 0, "%-3s %-*s  %-14s %10s\n", index.c_str(), width, layer.c_str(),
                                shape.c_str(), params.c_str());
    std::string line(static_cast<std::size_t>(n) + 1, '\0');
    std::snprintf(line.data(), line.size(), "%-3s %-*s  %-14s %10s\n", index.c_str(), width, layer.c_str(),
                  shape.c_str(), params.c_str());
    line.pop_back();
    return line;
  }

  void bind_next(Layer<S>& layer) {
    if (layers_.empty() && !input_.valid()) {
      const auto natural = layer.natural_input_shape();
      detail::require(natural.has_value(), "Sequential: the first layer, ", layer.describe(),
                      ", does not determine the model's input shape; construct the Sequential with "
                      "it, e.g. Sequential<float>(Shape{1, 28, 28})");
      input_ = *natural;
    }
    try {
      layer.bind(output_shape());
    } catch (const InvalidArgument& e) {
      const std::size_t n = layers_.size();
      if (n == 0) {
        detail::fail("Sequential: layer 0 (", layer.describe(), ") cannot take the model's input of ",
                     input_.described(), ": ", e.what());
      }
      detail::fail("Sequential: layer ", n, " (", layer.describe(), ") cannot follow layer ", n - 1,
                   " (", layers_.back()->describe(), "), whose output is ", output_shape().described(),
                   ": ", e.what());
    }
  }

  // State dicts and model files find a tensor by its name: two of one name in a layer (a user's) were
  // both loaded from the first.
  static void check_tensor_names(Layer<S>& layer) {
    std::vector<std::string> names;
    for (const auto& list : {layer.parameters(), layer.buffers()}) {
      for (const auto& t : list) {
        detail::require(!t.name.empty(), layer.describe(), " has a tensor without a name");
        detail::require(std::find(names.begin(), names.end(), t.name) == names.end(), layer.describe(),
                        " names two of its tensors '", t.name, "': each needs a name of its own");
        names.push_back(t.name);
      }
    }
  }

  // Layers are owned through pointers, so const methods may still read their views.
  std::vector<TensorRef<S>> collect(std::vector<TensorRef<S>> (Layer<S>::*list)(), std::size_t first = 0,
                                    std::size_t end = static_cast<std::size_t>(-1)) const {
    std::vector<TensorRef<S>> all;
    for (std::size_t i = first; i < std::min(end, layers_.size()); ++i) {
      for (auto& t : ((*layers_[i]).*list)()) {
        t.name = prefixed(i, t.name);
        t.layer = layers_[i]->lifetime();
        t.layer_known = true;
        all.push_back(std::move(t));
      }
    }
    return all;
  }

  Shape input_;
  std::vector<std::unique_ptr<Layer<S>>> layers_;
  // Layer i can apply the ReLU at i + 1 (never the last layer: backward() starts from a Ref).
  bool relu_fusable_after(std::size_t i) const {
    return fuse_relu_ && i + 2 < layers_.size() && layers_[i]->can_fuse_relu() &&
           dynamic_cast<const ReLU<S>*>(layers_[i + 1].get()) != nullptr;
  }
  // source: the model's input as its owner keeps it (layer 0 only), or nullptr.
  const Matrix<S>& forward_layer(std::size_t i, const Eigen::Ref<const Matrix<S>>& x, Mode mode,
                                 const VersionedMatrix<S>* source) {
    detail::require(i < layers_.size(), "Sequential::forward_layer(", i, ") of a model of ", layers_.size(),
                    " layers");
    const Matrix<S>* same = nullptr;
    if (i > 0) {
      same = outputs_[i - 1];
      detail::require(stepped_ == i && same != nullptr && same->data() == x.data() && same->rows() == x.rows() &&
                          same->cols() == x.cols(),
                      "Sequential::forward_layer(", i, ") takes what forward_layer(", i - 1,
                      ") returned, right after it");
    }
    const Matrix<S>& y = step_forward(i, x, same, mode, source);
    outputs_[i] = &y;
    owners_[i] = &y == same ? owners_[i - 1] : i;
    stepped_ = i + 1;
    return y;
  }
  bool draws_random(std::size_t i) const {
    return layers_[i]->has_random_state() && !layers_[i]->passes_through(Mode::Train);
  }
  // x is not a buffer a layer returned in the last forward: the forward would write it while reading it.
  void check_not_own_output(const Eigen::Ref<const Matrix<S>>& x) const {
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      const Matrix<S>* y = outputs_[i];
      if (y == nullptr || !detail::overlaps<S>(x, y->data(), y->size())) continue;
      detail::fail<InvalidArgument>("Sequential::forward: its input is the output of layer ", i, " (",
                                    layers_[i]->describe(), ") in the model's last forward, a buffer the forward ",
                                    "overwrites while reading it; pass a copy (Matrix h = model.forward(x, mode); ",
                                    "model.forward(h, mode))");
    }
  }
  // The matrix of a versioned input, refused when its owner has already changed it.
  static const Matrix<S>& checked_input(const VersionedMatrix<S>& x) {
    detail::require(x.matrix != nullptr && x.version != nullptr, "Sequential::forward got a versioned input "
                    "without a matrix or version (a Batch's source is empty for a last partial batch: give its x)");
    detail::require(x.current(), "Sequential::forward got a versioned input that its owner has changed since (a "
                    "DataLoader's batch after the loader's next batch)");
    return *x.matrix;
  }
  // Layer i's forward on x; `same` is x as a matrix (every layer's input but the first's), which
  // a layer that passes its input through returns. Records whether layer i applies the next ReLU.
  const Matrix<S>& step_forward(std::size_t i, const Eigen::Ref<const Matrix<S>>& x, const Matrix<S>* same, Mode mode,
                                const VersionedMatrix<S>* source) {
    Layer<S>& layer = *layers_[i];
    masks_[i] = false;
    planes_[i] = false;
    if (i >= 2 && planes_[i - 2]) {  // the taker, whose output the layer two before computed
      fused_[i] = false;
      masks_[i] = true;  // the planes' condition: never the last layer, and it can mask
      return layer.absorb_taken(x, mode);
    }
    if (i > 0 && fused_[i - 1]) {
      fused_[i] = false;
      layer.absorb_forward(x, mode);
      return *same;
    }
    // After a fused layer and its ReLU, a layer that can mask its dL/dx for that ReLU does, which
    // saves the fused layer's mask pass (never the last layer: backward() starts with its own).
    masks_[i] = i >= 2 && fused_[i - 2] && i + 1 < layers_.size() && layer.can_mask_relu_gradient();
    fused_[i] = relu_fusable_after(i);
    // The same, and the layer after the ReLU takes planes and masks for the ReLU (never the last
    // layer either).
    planes_[i] = fused_[i] && i + 3 < layers_.size() && layer.can_feed_planes() &&
                 layers_[i + 2]->can_take_planes() && layers_[i + 2]->can_mask_relu_gradient();
    if (same != nullptr && !fused_[i] && layer.forward_in_place(x, mode)) return *same;
    Layer<S>* taker = nullptr;
    if (planes_[i]) {
      taker = layers_[i + 2].get();
      taker->begin_taking(x.cols());
    }
    // Every input but the first is an earlier layer's output buffer, which nothing changes before
    // this layer's backward unless that layer runs forward again (this layer's backward is then
    // refused).
    // The first layer's input is kept likewise when its owner gives it with a version (source).
    const Matrix<S>& y = same != nullptr
                             ? layer.forward_kept(*same, *layers_[owners_[i - 1]], mode, fused_[i], taker)
                         : source != nullptr ? layer.forward_kept(*source, mode, fused_[i], taker)
                         : fused_[i]         ? layer.forward_fused(x, mode, taker)
                                             : layer.forward(x, mode);
    // A user's layer that says it can apply the ReLU but does not would be silently wrong.
    MLP_ASSERT(!fused_[i] || planes_[i] || !(y.array() < S(0)).any(),
               "a layer with can_fuse_relu() left negative values in a fused forward");
    return y;
  }

  bool fuse_relu_ = true;
  std::vector<char> fused_;                // per layer: its last forward applied the next layer's ReLU
  std::vector<char> masks_;                // per layer: its backward masks dL/dx for the fused ReLU before it
  std::vector<char> planes_;               // per layer: its last forward handed planes to the layer two after it
  std::size_t stepped_ = 0;                // layers run by the forward_layer calls of the current pass
  std::vector<const Matrix<S>*> outputs_;  // each layer's output buffer after the last forward
  std::vector<std::size_t> owners_;        // per layer: the layer that owns that buffer (it or one before)
  Matrix<S> identity_;  // output of a network without layers
  Matrix<S> empty_;     // dL/dx when input gradients are off
  bool input_grad_ = false;
  MatmulPrecision precision_ = MatmulPrecision::Float32;
};

}  // namespace mlp
