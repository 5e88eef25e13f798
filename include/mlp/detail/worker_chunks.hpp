// Chunks of a batch shared out among thread_count() threads, each call told which worker runs it so it
// can use that worker's scratch buffers (Conv2d lowers a few samples at a time into a per-worker
// im2col matrix). Chunks are handed out dynamically, which keeps both cores busy on a shared
// machine; a caller that writes each chunk's results to a place fixed by the chunk (never by the
// worker) gets the same bits whatever the thread count.
#pragma once

#include "mlp/core/threads.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/parallel.hpp"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mlp::detail {

// The number of workers worker_chunks() may use now: thread_count().
inline int worker_count() { return thread_count(); }

// fn(worker, chunk, begin, end) for the chunks [c * size, min(n, (c + 1) * size)) covering [0, n),
// with worker in [0, worker_count()). Matrix products inside fn run single-threaded (Eigen does
// not nest its parallelism), which is the point: each worker owns whole chunks.
template <class Fn>
void worker_chunks(Index n, Index size, Fn&& fn) {
  const Index chunks = (n + size - 1) / size;
#ifdef _OPENMP
  const int workers = static_cast<int>(std::min<Index>(worker_count(), chunks));
  if (workers > 1) {
    parallel_region(workers, [&] {
      const int worker = omp_get_thread_num();
      _Pragma("omp for schedule(dynamic, 1)")
      for (Index c = 0; c < chunks; ++c) fn(worker, c, c * size, std::min(n, (c + 1) * size));
    });
    return;
  }
#endif
  for (Index c = 0; c < chunks; ++c) fn(0, c, c * size, std::min(n, (c + 1) * size));
}

}  // namespace mlp::detail
