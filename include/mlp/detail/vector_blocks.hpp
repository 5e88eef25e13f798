// Several Eigen statements over the same range of arrays, run block by block so that the block stays
// in the L1 cache between the statements, with the same bits as each statement over the whole range.
//
// Why the blocks start where they do: Eigen vectorizes a statement on an unaligned Map with a scalar
// head up to the first element aligned for its packets, whole packets, then a scalar tail; an
// element computed in a scalar head can round differently from one computed in a packet (a compiler
// contracts a * b + c into a fused multiply-add in one and not the other; tests/test_optimizers.cpp
// sees differences in builds without FMA too). Every block after the
// first starts at an element aligned for Eigen's packets in all the arrays and, but for the last,
// holds whole packets: each block's head is the range's head, its packets are the range's packets
// and the last block's tail is the range's tail. Arrays that are not equally aligned (or not aligned
// to their scalar) run as one block.
#pragma once

#include "mlp/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace mlp::detail {

// fn(b, e) for consecutive blocks [b, e) covering [begin, end) of the `count` arrays at `arrays`
// (each indexed from its element 0; count >= 1), about `block` elements each.
template <class S, class Fn>
void for_each_vector_block(Index begin, Index end, Index block, const S* const* arrays, std::size_t count,
                           Fn&& fn) {
  // The alignment Eigen's vectorized loops look for on a Map: its packet's size (16, 32 or 64 bytes).
  constexpr std::uintptr_t kLine = Eigen::internal::packet_traits<S>::size * sizeof(S);
  constexpr Index kPerLine = static_cast<Index>(kLine / sizeof(S));
  const std::uintptr_t offset = reinterpret_cast<std::uintptr_t>(arrays[0]) % kLine;
  bool shared = offset % sizeof(S) == 0 && block >= kPerLine;
  for (std::size_t a = 0; a < count; ++a) {
    shared = shared && reinterpret_cast<std::uintptr_t>(arrays[a]) % kLine == offset;
  }
  if (!shared) {
    if (begin < end) fn(begin, end);
    return;
  }
  const auto aligned = static_cast<Index>((kLine - offset) % kLine / sizeof(S));  // first aligned element
  for (Index b = begin; b < end;) {
    // The first aligned element at or after b + block.
    const Index past = b + block - aligned;
    const Index e = std::min(end, aligned + (past + kPerLine - 1) / kPerLine * kPerLine);
    fn(b, e);
    b = e;
  }
}

template <class S, class Fn>
void for_each_vector_block(Index begin, Index end, Index block, std::initializer_list<const S*> arrays, Fn&& fn) {
  for_each_vector_block<S>(begin, end, block, arrays.begin(), arrays.size(), std::forward<Fn>(fn));
}

}  // namespace mlp::detail
