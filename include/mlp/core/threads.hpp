// How many threads the library's parallel work uses: Eigen's thread count (Eigen::setNbThreads;
// 1 without OpenMP), lowered for the calling thread while a ThreadLimit is in scope. Every
// parallel pass of the library (matrix products, Conv2d's chunks, BatchNorm's channels, pooling,
// the optimizers) computes each result the same way at any thread count, so a limit changes the
// speed, never the numbers. The Trainer uses one to drop to fewer threads while other processes
// keep the cores busy (see TrainerOptions::adapt_threads).
#pragma once

#include "mlp/core/errors.hpp"

#include <Eigen/Core>

#include <algorithm>

namespace mlp {

namespace detail {
inline int& thread_limit_slot() {
  thread_local int limit = 0;  // 0: no limit
  return limit;
}
}  // namespace detail

// The threads the library's parallel passes may use now, on this thread (at least 1).
inline int thread_count() {
#ifdef _OPENMP
  const int eigen = std::max(1, Eigen::nbThreads());
  const int limit = detail::thread_limit_slot();
  return limit > 0 ? std::min(eigen, limit) : eigen;
#else
  return 1;
#endif
}

// Caps thread_count() at `limit` (>= 1) on this thread for the lifetime of the object. A limit
// inside another is a cap too: the lower of the two holds (an inner ThreadLimit(2) does not lift an
// outer ThreadLimit(1)), and the outer one holds again when the inner ends. A limit below 1 is
// refused: 0 could mean "no limit" or "none".
class ThreadLimit {
 public:
  explicit ThreadLimit(int limit) : saved_(detail::thread_limit_slot()) {
    detail::require(limit >= 1, "ThreadLimit needs a limit of at least 1 thread, but got ", limit);
    detail::thread_limit_slot() = saved_ > 0 ? std::min(saved_, limit) : limit;
  }
  // Sets the limit to `limit` even above an outer one. For the Trainer only: a train_step called
  // from a callback runs inside the Trainer's own limit for the work between steps, and has to run
  // on the count its governor asks for (never more than the count outside the Trainer's limits).
  struct Replacing {};
  ThreadLimit(int limit, Replacing) : saved_(detail::thread_limit_slot()) {
    detail::require(limit >= 1, "ThreadLimit needs a limit of at least 1 thread, but got ", limit);
    detail::thread_limit_slot() = limit;
  }
  ~ThreadLimit() { detail::thread_limit_slot() = saved_; }
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  int saved_;
};

}  // namespace mlp
