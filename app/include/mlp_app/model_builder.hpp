// Builds a run's model from its configuration: an MLP of hidden widths (ParameterizedMLP), or the
// architecture of its `arch` text (architecture.hpp).
#pragma once

#include "mlp/model/parameterized_mlp.hpp"
#include "mlp_app/architecture.hpp"
#include "mlp_app/run_config.hpp"

namespace mlp::app {

inline Sequential<float> build_run_model(const RunConfig& config, const Shape& input, Index classes) {
  detail::require(config.arch.empty(), "architectures with conv blocks are not available in this build");
  return ParameterizedMLP<float>(config.model_spec(input.size(), classes), config.seed);
}

}  // namespace mlp::app
