// Software prefetch hints: they change when memory is read, never what is computed.
#pragma once

#include "mlp/core/types.hpp"

namespace mlp::detail {

// Every cache line of the `bytes` bytes at p asked for, to read (Write false) or to write, into
// all cache levels (__builtin_prefetch takes its hints as constants, hence the template parameter).
template <bool Write>
void prefetch_lines(const char* p, Index bytes) {
#if defined(__GNUC__) || defined(__clang__)
  // GCC counts a prefetch as free of effects, so it deleted calls of a function that only prefetches
  // (the loader's did); an empty volatile asm is an effect it keeps, at no instruction.
  asm volatile("" : : "r"(p));
  if (bytes <= 0) return;
  // Every 64 bytes from p on falls in the next line; the last byte's line may come after them.
  for (Index b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, Write ? 1 : 0, 3);
  __builtin_prefetch(p + bytes - 1, Write ? 1 : 0, 3);
#else
  (void)p, (void)bytes;
#endif
}

// Asks for every cache line of [p, p + n) with the intent to write it. A line that another core
// holds is then invalidated there while the caller still works on something else, instead of at
// the first store to it, which waits for that round trip (several such stores in a row wait one
// after the other on the machine measured, docs/performance.md "The twenty-first round").
template <class S>
void prefetch_for_write(const S* p, Index n) {
  prefetch_lines<true>(reinterpret_cast<const char*>(p), n * static_cast<Index>(sizeof(S)));
}

}  // namespace mlp::detail
