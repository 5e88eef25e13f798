// Thread count for Eigen's matrix products (OpenMP underneath when the program is built with it).
#pragma once

#include <Eigen/Core>

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

}  // namespace cli
