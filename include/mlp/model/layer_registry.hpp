// Layer kinds by name, so that a model file (a list of kinds and configurations) can be turned
// back into layers. The library's own kinds are registered when the registry is first used; a
// user's layer joins them with one call, and is then saved, loaded, checkpointed and evaluated like
// any other:
//
//   template <class S> class Swish : public mlp::Layer<S> {
//     ...  std::string_view kind() const override { return "Swish"; }
//     static std::unique_ptr<Swish> from_config(const mlp::LayerConfig&) { ... }
//   };
//   mlp::register_layer<Swish>("Swish");   // for float and double models
//
// A kind may also provide `static std::vector<StateShape> state_shapes(const LayerConfig&)`:
// loaders then compare a file's tensors with it before building the layer, so a corrupt
// configuration cannot make them allocate more than the file holds.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/layers/activations.hpp"
#include "mlp/layers/batchnorm.hpp"
#include "mlp/layers/conv2d.hpp"
#include "mlp/layers/dropout.hpp"
#include "mlp/layers/flatten.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/layers/linear.hpp"
#include "mlp/layers/pooling.hpp"

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

namespace mlp {

template <class S>
using LayerFactory = std::function<std::unique_ptr<Layer<S>>(const LayerConfig&)>;
using StateShapes = std::function<std::vector<StateShape>(const LayerConfig&)>;

namespace detail {

template <class L, class = void>
struct has_state_shapes : std::false_type {};
template <class L>
struct has_state_shapes<L, std::void_t<decltype(L::state_shapes(std::declval<const LayerConfig&>()))>>
    : std::true_type {};

template <class L>
StateShapes state_shapes_of() {
  if constexpr (has_state_shapes<L>::value) {
    return [](const LayerConfig& c) { return L::state_shapes(c); };
  } else {
    return {};
  }
}

template <class L, class S>
LayerFactory<S> factory_of() {
  return [](const LayerConfig& c) -> std::unique_ptr<Layer<S>> { return L::from_config(c); };
}

}  // namespace detail

template <class S = float>
class LayerRegistry {
 public:
  static LayerRegistry& instance() {
    static LayerRegistry registry;
    return registry;
  }

  // Registers `kind`; a kind can be registered once. `type`: the class the factory builds, when known.
  void add(const std::string& kind, LayerFactory<S> make, StateShapes shapes = {},
           std::optional<std::type_index> type = std::nullopt) {
    detail::require(!kind.empty() && make != nullptr, "register_layer needs a kind name and a factory");
    std::lock_guard<std::mutex> lock(mutex_);
    detail::require(kinds_.count(kind) == 0, "layer kind '", kind, "' is already registered");
    kinds_[kind] = {std::move(make), std::move(shapes), type};
  }

  bool contains(const std::string& kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return kinds_.count(kind) != 0;
  }

  // Whether `layer` is of a registered kind whose factory builds its class (as far as the registry
  // knows the class: a factory of one's own may build any); a layer of its own whose kind() said
  // "Linear" was saved and loaded back as a built-in Linear.
  bool builds(const Layer<S>& layer) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = kinds_.find(std::string(layer.kind()));
    return it != kinds_.end() && (!it->second.type || *it->second.type == std::type_index(typeid(layer)));
  }

  // A new layer of `kind` built from `config`; InvalidArgument for an unknown kind or a bad config.
  std::unique_ptr<Layer<S>> make(const std::string& kind, const LayerConfig& config) const {
    const Entry entry = find(kind);
    std::unique_ptr<Layer<S>> layer = entry.make(config);
    detail::require(layer != nullptr && layer->kind() == kind, "the factory registered for layer kind '",
                    kind, "' built ", layer ? "a '" + std::string(layer->kind()) + "'" : "nothing");
    return layer;
  }

  // The tensors a layer of `kind` will hold, when the kind says so without being built.
  std::optional<std::vector<StateShape>> state_shapes(const std::string& kind, const LayerConfig& config) const {
    const Entry entry = find(kind);
    if (!entry.shapes) return std::nullopt;
    return entry.shapes(config);
  }

  std::vector<std::string> kinds() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto& [name, entry] : kinds_) names.push_back(name);
    return names;
  }

 private:
  struct Entry {
    LayerFactory<S> make;
    StateShapes shapes;
    std::optional<std::type_index> type;
  };

  LayerRegistry() {
    add<Linear<S>>("Linear");
    add<ReLU<S>>("ReLU");
    add<LeakyReLU<S>>("LeakyReLU");
    add<Sigmoid<S>>("Sigmoid");
    add<Tanh<S>>("Tanh");
    add<BatchNorm1d<S>>("BatchNorm1d");
    add<BatchNorm2d<S>>("BatchNorm2d");
    add<Dropout<S>>("Dropout");
    add<Flatten<S>>("Flatten");
    add<Conv2d<S>>("Conv2d");
    add<MaxPool2d<S>>("MaxPool2d");
    add<AvgPool2d<S>>("AvgPool2d");
  }
  template <class L>
  void add(const std::string& kind) {
    kinds_[kind] = {detail::factory_of<L, S>(), detail::state_shapes_of<L>(), std::type_index(typeid(L))};
  }

  Entry find(const std::string& kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = kinds_.find(kind);
    if (it == kinds_.end()) {
      std::string known;
      for (const auto& [name, entry] : kinds_) known += (known.empty() ? "" : ", ") + name;
      detail::fail("unknown layer kind '", kind, "' (known kinds: ", known,
                   "; a layer of your own needs mlp::register_layer first)");
    }
    return it->second;
  }

  mutable std::mutex mutex_;
  std::map<std::string, Entry> kinds_;
};

// Registers a layer template for float and double models: L<S>::from_config(const LayerConfig&)
// builds it, and L<S>::kind() must return `kind`.
template <template <class> class L>
void register_layer(const std::string& kind) {
  // both or neither (a kind taken for double models only had left the float registration behind)
  for (const bool taken : {LayerRegistry<float>::instance().contains(kind), LayerRegistry<double>::instance().contains(kind)}) {
    detail::require(!taken, "layer kind '", kind, "' is already registered");
  }
  LayerRegistry<float>::instance().add(kind, detail::factory_of<L<float>, float>(), detail::state_shapes_of<L<float>>(),
                                       std::type_index(typeid(L<float>)));
  LayerRegistry<double>::instance().add(kind, detail::factory_of<L<double>, double>(),
                                        detail::state_shapes_of<L<double>>(), std::type_index(typeid(L<double>)));
}

// Registers a layer for models of one scalar type with a factory of your own.
template <class S>
void register_layer(const std::string& kind, LayerFactory<S> make, StateShapes shapes = {}) {
  LayerRegistry<S>::instance().add(kind, std::move(make), std::move(shapes));
}

}  // namespace mlp
