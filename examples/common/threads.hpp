// Thread count for Eigen's matrix products (OpenMP underneath when the program is built with it).
#pragma once

#include <mlp/core/precision.hpp>
#include <mlp/core/types.hpp>
#include <mlp/detail/gemm_bf16.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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

// Turns OMP_DYNAMIC off on the calling thread (it is per thread: a std::thread that trains starts
// with the environment's setting), so that the runtime starts every region with the threads it asks
// for; true if it was on.
inline bool exact_thread_counts_here() {
#ifdef _OPENMP
  if (!omp_get_dynamic()) return false;
  omp_set_dynamic(0);
  return true;
#else
  return false;
#endif
}

// Sets the threads Eigen may use; returns the number in effect (1 without OpenMP). The count asked
// for is the count that runs: OMP_DYNAMIC, which would let the runtime start fewer threads than a
// region asks for, is turned off (exact_thread_counts_here), and OMP_THREAD_LIMIT lowers the count
// (each said once on stderr when it matters, more than 1 thread), so that a program never reports a
// thread count it did not run on.
inline int set_threads(int threads) {
#ifdef _OPENMP
  static bool said_dynamic = false, said_limit = false;
  if (exact_thread_counts_here() && threads > 1 && !said_dynamic) {
    std::fprintf(stderr, "note: OMP_DYNAMIC is ignored: the thread count given is the count used\n");
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

// The thread counts a benchmark measures, each as set_threads will run it (OMP_THREAD_LIMIT lowers
// it, a build without OpenMP runs 1), said on stderr when lowered; a lowered count already in the
// list is left out, so that no row claims a count it did not run on.
inline std::vector<mlp::Index> runnable_thread_counts(const std::vector<mlp::Index>& asked) {
  std::vector<mlp::Index> counts;
  for (const mlp::Index n : asked) {
#ifdef _OPENMP
    const mlp::Index runs = std::min<mlp::Index>(n, omp_get_thread_limit());
#else
    const mlp::Index runs = 1;
#endif
    if (runs != n) {
      std::fprintf(stderr, "note: --threads %lld runs on %lld thread%s (OMP_THREAD_LIMIT, or a build without OpenMP)\n",
                   static_cast<long long>(n), static_cast<long long>(runs), runs == 1 ? "" : "s");
    }
    if (runs == n || std::find(counts.begin(), counts.end(), runs) == counts.end()) counts.push_back(runs);
  }
  return counts;
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
