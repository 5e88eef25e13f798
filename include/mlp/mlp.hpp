// Umbrella header: everything the library offers. Include the individual headers to compile less.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/core/types.hpp"
#include "mlp/gradcheck.hpp"
#include "mlp/layers/activations.hpp"
#include "mlp/layers/batchnorm1d.hpp"
#include "mlp/layers/dropout.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/layers/linear.hpp"
#include "mlp/losses/regularization.hpp"
#include "mlp/losses/softmax_cross_entropy.hpp"
#include "mlp/model/parameterized_mlp.hpp"
#include "mlp/model/sequential.hpp"
#include "mlp/model/state_dict.hpp"
#include "mlp/train/metrics.hpp"
