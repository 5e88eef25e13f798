// The inner loops of MaxPool2d's forward pass (for float on a CPU with AVX512F, the usual 2 x 2
// pool runs max_pool_avx512.hpp's one-pass loop instead, with the same results). PyTorch's rule, which both follow: scanning a window
// in row-major order, a candidate replaces the best so far when it is larger or NaN; so the first
// maximum wins a tie and the last NaN wins over everything. Equivalently, with each candidate's
// index in the image (which grows in row-major order inside a window), (v, i) beats (best, bi) when
//   v > best,  or v == best and i < bi,  or v is NaN and (best is not NaN or i > bi),
// a rule that does not depend on the order the candidates are compared in.
//
// Neither loop branches on the data: on real activations a branch per comparison is mispredicted
// about half the time, which made a 2 x 2 pool several times slower. The choice is made with bit
// masks, which compilers neither turn back into branches nor stop vectorizing.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/types.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mlp::detail {

// take ? a : b for floating-point values, without a branch.
template <class S>
S select_bits(bool take, S a, S b) {
  using Bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(Bits) == sizeof(S), "select_bits needs a 4- or 8-byte scalar");
  Bits ab, bb;
  std::memcpy(&ab, &a, sizeof a);
  std::memcpy(&bb, &b, sizeof b);
  bb ^= (bb ^ ab) & (Bits{0} - static_cast<Bits>(take));
  std::memcpy(&b, &bb, sizeof b);
  return b;
}
inline std::int32_t select_bits(bool take, std::int32_t a, std::int32_t b) {
  return b ^ ((b ^ a) & -static_cast<std::int32_t>(take));
}

// Whether candidate (v, i) beats (best, bi) under PyTorch's rule (see the top of the file).
template <class S>
bool beats(S v, std::int32_t i, S best, std::int32_t bi) {
  const bool v_nan = std::isnan(v), best_nan = std::isnan(best);
  return (v > best) | ((v == best) & (i < bi)) | (v_nan & (!best_nan | (i > bi)));
}

// One tap of a row of outputs: for ox in [first, last), the candidate row[ox * stride], at index
// at0 + ox * stride, competes with y[ox] and arg[ox]. Stride > 0 fixes the stride at compile time
// (1 and 2 are the usual ones), which lets the compiler vectorize the loop.
template <Index Stride, class S>
void take_larger(const S* __restrict row, std::int32_t at0, Index stride, Index first, Index last,
                 S* __restrict y, std::int32_t* __restrict arg) {
  const Index step = Stride > 0 ? Stride : stride;
  for (Index ox = first; ox < last; ++ox) {
    const S v = row[ox * step];
    const auto at = at0 + static_cast<std::int32_t>(ox * step);
    const bool take = beats(v, at, y[ox], arg[ox]);
    y[ox] = select_bits(take, v, y[ox]);
    arg[ox] = select_bits(take, at, arg[ox]);
  }
}

// The winner of two candidates whose indices are known to be in order (i_a < i_b), which is the
// rule of beats() for that case: b wins when it is larger or NaN.
template <class S>
bool later_beats(S b, S a) {
  return (b > a) | std::isnan(b);
}

// Output rows [first_block, blocks) of the pass down of max_pool_2x2 (see below), each row of OW
// values as a run of exactly Width (Width = 0: OW) from `top`: a run of a fixed width compiles to a
// few whole vector operations, where a loop over OW = 7 or 14 values runs scalar. A padded run
// writes past its row into the next rows' outputs, which those rows then overwrite (rows go in
// order); the caller keeps the last rows, whose runs would leave the sample, for Width = 0.
template <Index Width, class S>
void max_pool_down_rows(const S* __restrict h, const std::int32_t* __restrict hi, Index first_block, Index blocks,
                        Index OW, S* __restrict y, std::int32_t* __restrict arg) {
  const Index run = Width > 0 ? Width : OW;
  for (Index blk = first_block; blk < blocks; ++blk) {
    const S* top = h + 2 * blk * OW;
    const S* bottom = top + OW;
    const std::int32_t* top_i = hi + 2 * blk * OW;
    const std::int32_t* bottom_i = top_i + OW;
    S* yo = y + blk * OW;
    std::int32_t* ao = arg + blk * OW;
    for (Index ox = 0; ox < run; ++ox) {
      const bool take = later_beats(bottom[ox], top[ox]);
      yo[ox] = select_bits(take, bottom[ox], top[ox]);
      ao[ox] = select_bits(take, bottom_i[ox], top_i[ox]);
    }
  }
}

// The usual 2 x 2 pool with stride 2 and no padding, over one sample of `planes` channels of
// H x W with H and W even, in two passes:
//   1. across: for every pair of neighbouring pixels (2q, 2q + 1) of the sample, the winner and its
//      index: h[q], hi[q] (H x W/2 per channel, consecutive over the whole sample), one long loop;
//   2. down: output row oy of a channel is the winner between rows 2 oy and 2 oy + 1 of h, which
//      are rows 2b and 2b + 1 of h with b = c OH + oy (short rows: padded runs, see above).
// In both passes the second candidate has the larger index, so later_beats() decides.
// h and hi hold planes x H x W/2 values. The indices are into x, plus `base`.
template <class S>
void max_pool_2x2(const S* __restrict x, Index planes, Index H, Index W, S* __restrict h,
                  std::int32_t* __restrict hi, S* __restrict y, std::int32_t* __restrict arg,
                  std::int32_t base = 0) {
  const Index pairs = planes * H * W / 2, OW = W / 2, blocks = planes * H / 2;
  for (Index q = 0; q < pairs; ++q) {
    const S a = x[2 * q], b = x[2 * q + 1];
    const bool take = later_beats(b, a);
    h[q] = select_bits(take, b, a);
    hi[q] = base + static_cast<std::int32_t>(2 * q) + static_cast<std::int32_t>(take);
  }
  // Rows whose padded run stays inside the sample's outputs: blk OW + Width <= blocks OW.
  const auto padded = [&](auto width) {
    constexpr Index Width = decltype(width)::value;
    const Index fit = std::clamp<Index>(blocks - (Width + OW - 1) / OW + 1, 0, blocks);
    MLP_ASSERT(fit == 0 || (fit - 1) * OW + Width <= blocks * OW, "max_pool_2x2: a padded run leaves the sample");
    max_pool_down_rows<Width>(h, hi, 0, fit, OW, y, arg);
    max_pool_down_rows<0>(h, hi, fit, blocks, OW, y, arg);
  };
  if (OW <= 8) {
    padded(std::integral_constant<Index, 8>{});
  } else if (OW <= 16) {
    padded(std::integral_constant<Index, 16>{});
  } else {
    max_pool_down_rows<0>(h, hi, 0, blocks, OW, y, arg);
  }
}

// Blocks [first_block, blocks) of max_pool_2x2_backward (below): window row blk covers input rows
// 2 blk and 2 blk + 1 of the sample, one run of exactly Width outputs each (Width = 0: OW), padded
// as in max_pool_down_rows. A padded top run writes into the bottom row, which its own run then
// overwrites, and a padded bottom run into the next block's top row, which the next block
// overwrites; the caller keeps the last blocks, whose runs would leave the sample, for Width = 0.
template <bool Masked, Index Width, class S>
void max_pool_2x2_backward_rows(const S* __restrict g, const S* __restrict y, const std::int32_t* __restrict arg,
                                Index first_block, Index blocks, Index OW, S* dx) {
  const Index run = Width > 0 ? Width : OW, W = 2 * OW;
  for (Index blk = first_block; blk < blocks; ++blk) {
    const S* gb = g + blk * OW;
    const S* yb = y + (Masked ? blk * OW : 0);
    const std::int32_t* ab = arg + blk * OW;
    // The inputs of the window row 16 ahead (within the range), asked for now: on the Zen 5 the
    // hardware's prefetch left this loop waiting (0.9 -> 0.78 ms on the study CNN's first pool).
    const Index ahead = std::min(blk + 16, blocks - 1) * OW;
    __builtin_prefetch(g + ahead);
    if (Masked) __builtin_prefetch(y + ahead);
    __builtin_prefetch(arg + ahead);
    const auto top0 = static_cast<std::int32_t>(2 * blk * W);  // the window's top-left index at ox = 0
    for (int row = 0; row < 2; ++row) {
      S* out = dx + (2 * blk + row) * W;
      const std::int32_t left0 = top0 + row * static_cast<std::int32_t>(W);
      for (Index ox = 0; ox < run; ++ox) {
        const S v = (Masked ? select_bits(yb[ox] > S(0), gb[ox], S(0)) : gb[ox]) + S(0);
        const std::int32_t left = left0 + static_cast<std::int32_t>(2 * ox);
        out[2 * ox] = select_bits(ab[ox] == left, v, S(0));
        out[2 * ox + 1] = select_bits(ab[ox] == left + 1, v, S(0));
      }
    }
  }
}

// Backward of max_pool_2x2 for one sample: every input pixel lies in exactly one window, so each
// dx value is written once, g[j] at the window's maximum and 0 at its other three pixels, instead
// of zeroing dx and scattering into it. Masked (a ReLU before the pool): g[j] is taken as 0 where
// y[j] <= 0, as relu_mask() does. The "+ S(0)" keeps the bits of the scatter this replaces,
// dx = 0 + g (a -0 gradient becomes +0; -ffast-math would drop it).
template <bool Masked, class S>
void max_pool_2x2_backward(const S* __restrict g, const S* __restrict y, const std::int32_t* __restrict arg,
                           Index planes, Index H, Index W, S* __restrict dx) {
  const Index OW = W / 2, blocks = planes * H / 2;
  const auto padded = [&](auto width) {
    constexpr Index Width = decltype(width)::value;
    // Blocks whose padded runs read and write inside the sample: blk OW + Width <= blocks OW.
    const Index fit = std::clamp<Index>(blocks - (Width + OW - 1) / OW + 1, 0, blocks);
    max_pool_2x2_backward_rows<Masked, Width>(g, y, arg, 0, fit, OW, dx);
    max_pool_2x2_backward_rows<Masked, 0>(g, y, arg, fit, blocks, OW, dx);
  };
  if (OW <= 8) {
    padded(std::integral_constant<Index, 8>{});
  } else if (OW <= 16) {
    padded(std::integral_constant<Index, 16>{});
  } else {
    max_pool_2x2_backward_rows<Masked, 0>(g, y, arg, 0, blocks, OW, dx);
  }
}

}  // namespace mlp::detail
