// The multi-layer perceptron of the study, built from a spec:
//   per hidden width h:  Linear -> [BatchNorm1d] -> activation -> [Dropout]
//   then a bare Linear to the class logits.
// ParameterizedMLP is one way to build a Sequential: everything that takes a model takes a
// Sequential, and a saved ParameterizedMLP loads back as the Sequential of its layers.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/layers/activations.hpp"
#include "mlp/layers/batchnorm.hpp"
#include "mlp/layers/dropout.hpp"
#include "mlp/layers/linear.hpp"
#include "mlp/model/sequential.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlp {

enum class Activation { ReLU, LeakyReLU, Sigmoid, Tanh };

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::ReLU: return "relu";
    case Activation::LeakyReLU: return "leaky_relu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
  }
  return "?";
}

inline Activation parse_activation(std::string_view name) {
  for (Activation a :
       {Activation::ReLU, Activation::LeakyReLU, Activation::Sigmoid, Activation::Tanh}) {
    if (name == to_string(a)) return a;
  }
  detail::fail("unknown activation '", name, "' (expected relu, leaky_relu, sigmoid or tanh)");
}

struct MlpSpec {
  Index inputs = 0;           // e.g. 784 for 28 x 28 images
  std::vector<Index> hidden;  // widths of the hidden layers, any number (none = linear model)
  Index classes = 0;          // logits produced
  Activation activation = Activation::ReLU;
  bool batch_norm = false;    // BatchNorm1d after every hidden Linear, before the activation
  double dropout = 0.0;       // Dropout(p) after every hidden activation when p > 0
  Init init = Init::KaimingUniform;
  double leaky_slope = 0.01;  // used by Activation::LeakyReLU

  void validate() const {
    detail::require(inputs > 0, "MlpSpec.inputs has to be positive, but got ", inputs);
    detail::require(classes > 0, "MlpSpec.classes has to be positive, but got ", classes);
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      detail::require(hidden[i] > 0, "MlpSpec.hidden[", i, "] has to be positive, but got ",
                      hidden[i]);
    }
    detail::require(dropout >= 0.0 && dropout < 1.0,
                    "dropout probability has to be in [0, 1), but got ", dropout);
  }

  // "784-256-128-10 relu" plus " +bn" and " dropout=0.2" when set.
  std::string describe() const {
    std::string text = std::to_string(inputs);
    for (Index h : hidden) text += "-" + std::to_string(h);
    text += "-" + std::to_string(classes) + " " + to_string(activation);
    if (batch_norm) text += " +batchnorm";
    if (dropout > 0.0) text += detail::concat(" dropout=", dropout);
    return text;
  }

  // Same layers and shapes (the init scheme only matters when weights are drawn, not loaded).
  bool same_architecture(const MlpSpec& o) const {
    return inputs == o.inputs && hidden == o.hidden && classes == o.classes &&
           activation == o.activation && batch_norm == o.batch_norm && dropout == o.dropout &&
           (activation != Activation::LeakyReLU || leaky_slope == o.leaky_slope);
  }

  bool operator==(const MlpSpec& o) const {
    return inputs == o.inputs && hidden == o.hidden && classes == o.classes &&
           activation == o.activation && batch_norm == o.batch_norm && dropout == o.dropout &&
           init == o.init && leaky_slope == o.leaky_slope;
  }
  bool operator!=(const MlpSpec& o) const { return !(*this == o); }
};

template <class S = float>
class ParameterizedMLP : public Sequential<S> {
 public:
  // Weights are drawn from derive_seed(seed, "init"); dropout layer k draws its masks from
  // derive_seed(seed, "dropout", k), so changing one never shifts the other.
  ParameterizedMLP(const MlpSpec& spec, std::uint64_t seed)
      : Sequential<S>(Shape::flat(checked(spec).inputs)), spec_(spec) {
    Rng init_rng(derive_seed(seed, "init"));
    Index width = spec.inputs;
    for (std::size_t k = 0; k < spec.hidden.size(); ++k) {
      this->template emplace<Linear<S>>(width, spec.hidden[k], init_rng, spec.init);
      if (spec.batch_norm) this->template emplace<BatchNorm1d<S>>(spec.hidden[k]);
      add_activation();
      if (spec.dropout > 0.0) {
        this->template emplace<Dropout<S>>(spec.dropout);
      }
      width = spec.hidden[k];
    }
    this->template emplace<Linear<S>>(width, spec.classes, init_rng, spec.init);
    this->seed_random_layers(seed);
  }

  const MlpSpec& spec() const { return spec_; }

 private:
  static const MlpSpec& checked(const MlpSpec& spec) {
    spec.validate();
    return spec;
  }
  void add_activation() {
    switch (spec_.activation) {
      case Activation::ReLU: this->template emplace<ReLU<S>>(); break;
      case Activation::LeakyReLU: this->template emplace<LeakyReLU<S>>(spec_.leaky_slope); break;
      case Activation::Sigmoid: this->template emplace<Sigmoid<S>>(); break;
      case Activation::Tanh: this->template emplace<Tanh<S>>(); break;
    }
  }

  MlpSpec spec_;
};

}  // namespace mlp
