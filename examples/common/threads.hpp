// Thread count for Eigen's matrix products (OpenMP underneath when the program is built with it).
#pragma once

#include <mlp/core/precision.hpp>
#include <mlp/detail/gemm_bf16.hpp>

#include <Eigen/Core>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cli {

// Says once, on stderr, when OMP_WAIT_POLICY=active is set and more than one thread may train. Under
// it the idle OpenMP threads spin without end: while another program keeps a core busy and the
// Trainer's thread governor runs the steps on 1 thread, the spinning thread takes half of the core
// those steps need (2 threads took 1.5-2.6 times as long as 1 under bench_contention.sh's load,
// against about as long without it; docs/performance.md, "The twenty-seventh round").
inline void note_wait_policy(int threads) {
  static bool said = false;
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (threads <= 1 || said || policy == nullptr) return;
  std::string lower(policy);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "active") return;
  said = true;
  std::fprintf(stderr, "note: OMP_WAIT_POLICY=active keeps idle OpenMP threads spinning: while another program keeps "
                       "a core busy, %d threads can train up to 2.6 times slower than 1 (unset it to let them "
                       "sleep)\n", threads);
}

// Sets the threads Eigen may use; returns the number in effect (1 without OpenMP). The count asked
// for is the count that runs: OMP_DYNAMIC, which would let the runtime start fewer threads than a
// region asks for, is turned off, and OMP_THREAD_LIMIT lowers the count (once said on stderr), so
// that a program never reports a thread count it did not run on.
inline int set_threads(int threads) {
#ifdef _OPENMP
  static bool said_dynamic = false, said_limit = false;
  if (omp_get_dynamic()) {
    omp_set_dynamic(0);
    if (!said_dynamic) std::fprintf(stderr, "note: OMP_DYNAMIC is ignored: the thread count given is the count used\n");
    said_dynamic = true;
  }
  const int limit = omp_get_thread_limit();
  if (threads > limit) {
    if (!said_limit) {
      std::fprintf(stderr, "note: OMP_THREAD_LIMIT=%d: %d threads asked for, %d used\n", limit, threads, limit);
    }
    said_limit = true;
    threads = limit;
  }
  note_wait_policy(threads);
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
