// Software prefetch hints: they change when memory is read, never what is computed.
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

// Asks for every cache line of [p, p + n) with the intent to write it. A line that another core
// holds is then invalidated there while the caller still works on something else, instead of at
// the first store to it, which waits for that round trip (several such stores in a row wait one
// after the other on the machines measured, docs/performance.md "The twenty-first round").
template <class S>
void prefetch_for_write(const S* p, Index n) {
#if defined(__GNUC__) || defined(__clang__)
  if (n <= 0) return;
  // Every 64 bytes from p on falls in the next line; the last byte's line may come after them.
  const char* const first = reinterpret_cast<const char*>(p);
  const Index bytes = n * static_cast<Index>(sizeof(S));
  for (Index b = 0; b < bytes; b += 64) __builtin_prefetch(first + b, 1, 3);
  __builtin_prefetch(first + bytes - 1, 1, 3);
#else
  (void)p, (void)n;
#endif
}

}  // namespace mlp::detail
