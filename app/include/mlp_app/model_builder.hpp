// Builds a run's model from its configuration: an MLP of hidden widths (ParameterizedMLP), or the
// architecture of its `arch` text (architecture.hpp) from the library's layers.
#pragma once

#include "mlp/core/random.hpp"
#include "mlp/layers/activations.hpp"
#include "mlp/layers/batchnorm.hpp"
#include "mlp/layers/conv2d.hpp"
#include "mlp/layers/dropout.hpp"
#include "mlp/layers/flatten.hpp"
#include "mlp/layers/linear.hpp"
#include "mlp/layers/pooling.hpp"
#include "mlp/model/parameterized_mlp.hpp"
#include "mlp_app/architecture.hpp"
#include "mlp_app/run_config.hpp"

namespace mlp::app {

// The model an architecture describes for images of `input` and `classes` classes. Weights are
// drawn from derive_seed(seed, "init"), dropout layer k's masks from derive_seed(seed, "dropout", k),
// as ParameterizedMLP does.
template <class S = float>
Sequential<S> build_architecture(const std::vector<ArchBlock>& blocks, const Shape& input, Index classes,
                                 Activation activation, Init init, std::uint64_t seed) {
  Sequential<S> model(input);
  Rng rng(derive_seed(seed, "init"));
  auto add_activation = [&] {
    switch (activation) {
      case Activation::ReLU: model.template emplace<ReLU<S>>(); break;
      case Activation::LeakyReLU: model.template emplace<LeakyReLU<S>>(); break;
      case Activation::Sigmoid: model.template emplace<Sigmoid<S>>(); break;
      case Activation::Tanh: model.template emplace<Tanh<S>>(); break;
    }
  };
  auto flatten_if_image = [&] {
    if (!model.output_shape().is_flat()) model.template emplace<Flatten<S>>();
  };
  for (const ArchBlock& b : blocks) {
    const Shape in = model.output_shape();
    switch (b.kind) {
      case ArchBlock::Kind::Conv:
        model.template emplace<Conv2d<S>>(in.channels, b.size, Size2(b.kernel), rng,
                                          Conv2dOptions{Size2(1), Size2(b.kernel / 2), true, init});
        if (b.batch_norm) model.template emplace<BatchNorm2d<S>>(b.size);
        add_activation();
        break;
      case ArchBlock::Kind::MaxPool: model.template emplace<MaxPool2d<S>>(Size2(b.size)); break;
      case ArchBlock::Kind::AvgPool: model.template emplace<AvgPool2d<S>>(Size2(b.size)); break;
      case ArchBlock::Kind::Dense:
        flatten_if_image();
        model.template emplace<Linear<S>>(model.output_shape().size(), b.size, rng, init);
        if (b.batch_norm) model.template emplace<BatchNorm1d<S>>(b.size);
        add_activation();
        break;
      case ArchBlock::Kind::Dropout:
        model.template emplace<Dropout<S>>(b.p);
        break;
    }
  }
  flatten_if_image();
  model.template emplace<Linear<S>>(model.output_shape().size(), classes, rng, init);
  model.seed_random_layers(seed);  // the k-th Dropout from derive_seed(seed, "dropout", k)
  return model;
}

inline Sequential<float> build_run_model(const RunConfig& config, const Shape& input, Index classes) {
  Sequential<float> model =
      config.arch.empty() ? Sequential<float>(ParameterizedMLP<float>(config.model_spec(input.size(), classes), config.seed))
                          : build_architecture<float>(parse_architecture(config.arch), input, classes, config.activation,
                                                      config.init, config.seed);
  model.set_matmul_precision(config.precision);
  return model;
}

}  // namespace mlp::app
