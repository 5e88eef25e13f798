// Software prefetch hints: they change when memory is read, never what is computed.
#pragma once

#include "mlp/core/types.hpp"

#include <cstdint>

namespace mlp::detail {

// Asks for every cache line of [p, p + n) with the intent to write it. A line that another core
// holds is then invalidated there while the caller still works on something else, instead of at
// the first store to it, which waits for that round trip (several such stores in a row wait one
// after the other on the machines measured, docs/performance.md "The twenty-first round").
template <class S>
void prefetch_for_write(const S* p, Index n) {
#if defined(__GNUC__) || defined(__clang__)
  constexpr std::uintptr_t kLine = 64;
  const auto end = reinterpret_cast<std::uintptr_t>(p + n);
  for (std::uintptr_t at = reinterpret_cast<std::uintptr_t>(p) / kLine * kLine; at < end; at += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(at), 1, 3);
  }
#else
  (void)p, (void)n;
#endif
}

}  // namespace mlp::detail
