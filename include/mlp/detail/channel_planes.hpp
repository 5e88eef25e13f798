// A batch of images seen a few channels at a time: with x of C * P rows x B columns (P = H x W
// pixels, one sample per column in C, H, W order), channel c of sample s is the contiguous block
// x.col(s).segment(c * P, P). BatchNorm2d's statistics are sums over a channel's B blocks: each
// block is summed in the scalar type (vectorized), the block sums are added in double in the order
// of the samples, as PyTorch accumulates its CPU batch statistics in double.
//
// Channels go a group at a time (channel_group): a pass over a group runs over the samples, and
// the group's blocks of one sample are one contiguous run. On small images a channel's block is
// short (196 values on 14 x 14), and a pass over one channel alone jumps from sample to sample
// every 784 bytes, which the hardware prefetchers do not follow: the first pass over the
// 64 x 14 x 14 batch ran at half the memory's speed. A group of about kChannelGroupValues values
// per sample reads runs of several KiB and still fits in L2 across its passes (the layer reads
// each group three times). Each channel's sums are the same whatever the group and the thread
// that ran it, so results do not depend on the thread count.
#pragma once

#include "mlp/core/types.hpp"

#include <algorithm>

namespace mlp::detail {

inline constexpr Index kChannelGroupValues = 1536;

// Channels per group for images of `pixels` pixels: about kChannelGroupValues values per sample,
// but with several threads at least two groups per thread when there are enough channels, which
// for_each_chunk needs before it uses the threads (with a few large groups the work would stay on
// one thread).
inline Index channel_group(Index channels, Index pixels, int threads) {
  const Index by_size = kChannelGroupValues / std::max<Index>(pixels, 1);
  const Index by_threads = threads > 1 ? channels / (2 * Index{threads}) : channels;
  return std::max<Index>(1, std::min({by_size, by_threads, channels}));
}

// fn(s, c, block) for every sample s and channel c in [c0, c1), samples outer; block is channel c
// of sample s (a segment of a's column s).
template <class A, class Fn>
void for_each_block(const Eigen::MatrixBase<A>& a, Index c0, Index c1, Index pixels, Fn&& fn) {
  for (Index s = 0; s < a.cols(); ++s) {
    for (Index c = c0; c < c1; ++c) fn(s, c, a.col(s).segment(c * pixels, pixels));
  }
}

// The sum in double of a channel's block sums (one per sample), in the order of the samples.
template <class S>
double sum_in_order(const S* parts, Index count) {
  double sum = 0.0;
  for (Index s = 0; s < count; ++s) sum += static_cast<double>(parts[s]);
  return sum;
}

}  // namespace mlp::detail
