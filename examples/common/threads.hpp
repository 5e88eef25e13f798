// Thread count for Eigen's matrix products (OpenMP underneath when the program is built with it).
#pragma once

#include <mlp/core/precision.hpp>
#include <mlp/detail/gemm_bf16.hpp>

#include <Eigen/Core>

#include <cstdio>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cli {

// Sets the threads Eigen may use; returns the number in effect (1 without OpenMP).
inline int set_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
  return Eigen::nbThreads();
#else
  (void)threads;
  return 1;
#endif
}

// Says once, on stderr, when bf16 products cannot use the CPU's AVX512_BF16 instructions.
inline void note_precision(mlp::MatmulPrecision precision) {
  static bool said = false;
  if (precision != mlp::MatmulPrecision::BFloat16 || said || mlp::detail::gemm_bf16_fast_path_available()) return;
  said = true;
  std::fprintf(stderr, "note: this CPU has no AVX512_BF16: bf16 products run on the portable code (the same numbers, "
                       "many times slower than fp32)\n");
}

}  // namespace cli
