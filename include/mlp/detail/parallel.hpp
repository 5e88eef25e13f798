// Element-wise work (optimizer updates, activations) split into cache-sized chunks, run on
// thread_count() threads when the program is built with OpenMP. Every element is computed the same
// way whatever the thread count, so results do not depend on it.
#pragma once

#include "mlp/core/threads.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/float_mode.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mlp::detail {

// Threads for a matrix product of m x n x k: thread_count(), or 1 when the product has fewer than
// min_flops operations or we already are in a parallel region (a worker's product runs on it).
inline int product_threads(Index m, Index n, Index k, double min_flops) {
#ifdef _OPENMP
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (omp_in_parallel() || flops < min_flops) return 1;
  return thread_count();
#else
  (void)m, (void)n, (void)k, (void)min_flops;
  return 1;
#endif
}

// body() on `threads` OpenMP threads (on the caller alone without OpenMP), each running with the
// caller's flush-to-zero setting: MXCSR is per thread, and a result must not depend on which thread
// computed it. A worksharing loop (`omp for`) inside body() shares its iterations among them.
template <class Body>
void parallel_region(int threads, Body&& body) {
#ifdef _OPENMP
  const unsigned mode = float_mode();
  _Pragma("omp parallel num_threads(threads)")
  {
    const unsigned saved = float_mode();
    set_float_mode(mode);
    body();
    set_float_mode(saved);
  }
#else
  (void)threads;
  body();
#endif
}

// fn(item, begin, end) for the chunks [c * chunk, min(n, (c + 1) * chunk)) covering [0, n) of every
// item 0 .. items - 1, where n = size_of(item), all in one parallel region: one hand-off to the
// threads per call instead of one per item, and no thread waits for another between items (an
// optimizer's step over many tensors, most of them small). An item of at least 2 chunks per thread
// has its chunks cut into consecutive runs, one per thread; a smaller one runs whole on one thread,
// the next small item on the next thread. Every chunk is computed on its own, so results do not
// depend on the thread count.
template <class SizeOf, class Fn>
void for_each_item_chunk(std::size_t items, SizeOf&& size_of, Index chunk, Fn&& fn) {
  const auto chunks_of = [&](std::size_t item) { return (size_of(item) + chunk - 1) / chunk; };
  const auto run = [&](std::size_t item, Index first, Index last) {
    const Index n = size_of(item);
    for (Index c = first; c < last; ++c) fn(item, c * chunk, std::min(n, (c + 1) * chunk));
  };
#ifdef _OPENMP
  const int threads = thread_count();
  Index total = 0;
  for (std::size_t i = 0; i < items; ++i) total += chunks_of(i);
  if (threads > 1 && total >= 2 * threads && !omp_in_parallel()) {
    parallel_region(threads, [&] {
      const int thread = omp_get_thread_num(), team = omp_get_num_threads();
      int small_turn = 0;  // the thread that runs the next small item
      for (std::size_t i = 0; i < items; ++i) {
        const Index chunks = chunks_of(i);
        if (chunks >= 2 * team) {
          run(i, chunks * thread / team, chunks * (thread + 1) / team);
        } else {
          if (small_turn == thread) run(i, 0, chunks);
          small_turn = (small_turn + 1) % team;
        }
      }
    });
    return;
  }
#endif
  for (std::size_t i = 0; i < items; ++i) run(i, 0, chunks_of(i));
}

// fn(begin, end) for consecutive chunks covering [0, n): one item of for_each_item_chunk, so cut
// into one run of chunks per thread, or all on the calling thread when there are fewer than 2
// chunks per thread or it is inside a parallel region (a layer run by a user's own OpenMP threads).
template <class Fn>
void for_each_chunk(Index n, Index chunk, Fn&& fn) {
  for_each_item_chunk(1, [n](std::size_t) { return n; }, chunk,
                      [&](std::size_t, Index begin, Index end) { fn(begin, end); });
}

// fn(begin, end) for ranges of whole columns of a matrix with `rows` rows, about 2^14 values each
// (enough work to pay for a hand-off to another thread, few enough that a batch makes several).
// Eigen vectorizes an expression over a strided matrix (an Eigen::Ref) column by column, so a
// column-range pass computes every column exactly as a pass over the whole matrix does.
template <class Fn>
void for_each_column_range(Index rows, Index cols, Fn&& fn) {
  constexpr Index kValues = Index{1} << 14;
  for_each_chunk(cols, std::max<Index>(1, kValues / std::max<Index>(1, rows)), std::forward<Fn>(fn));
}

}  // namespace mlp::detail
