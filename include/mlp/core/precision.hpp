// The precision of the matrix products of Linear and Conv2d. Float32 is the library's fp32 GEMM
// (detail/gemm.hpp: its own kernel on CPUs with AVX512F, Eigen's elsewhere).
// BFloat16 rounds the products' inputs to bfloat16 (8 significant bits) and accumulates in fp32
// (detail/gemm_bf16.hpp): up to twice the products' speed where vdpbf16ps runs as fast as fp32 FMA
// (AMD Zen 4 and 5), slower where it does not (an Intel Xeon measured: docs/bf16.md), the same
// numbers much more slowly without AVX512_BF16. Weights, gradients, optimizer state and the loss stay fp32 ("master weights").
// A training option, not part of a model: a saved model does not remember it.
#pragma once

#include "mlp/core/errors.hpp"

#include <string_view>

namespace mlp {

enum class MatmulPrecision { Float32, BFloat16 };

inline const char* to_string(MatmulPrecision p) { return p == MatmulPrecision::Float32 ? "fp32" : "bf16"; }

inline MatmulPrecision parse_matmul_precision(std::string_view name) {
  if (name == "fp32") return MatmulPrecision::Float32;
  if (name == "bf16") return MatmulPrecision::BFloat16;
  detail::fail("unknown precision '", name, "' (expected fp32 or bf16)");
}

}  // namespace mlp
