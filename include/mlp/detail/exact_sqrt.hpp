// Square roots of arrays rounded correctly, as std::sqrt and PyTorch give them, and still vectorized.
// Eigen 3.4's ArrayBase::sqrt() is, under EIGEN_FAST_MATH (its default), an approximation on SSE,
// AVX and AVX-512 (an rsqrt estimate and Newton steps: in float 1-2 bits short, and 0 for a
// denormal input), while the elements of a block's scalar tail get std::sqrt: an element's value
// depended on where its block began, and Adam's, RMSprop's and BatchNorm's numbers were not
// PyTorch's. The packet overloads below take the instructions that round correctly.
#pragma once

#include "mlp/core/types.hpp"

#include <cmath>

#if defined(EIGEN_VECTORIZE_SSE2)
#include <immintrin.h>
#endif

namespace mlp::detail {

struct ExactSqrt {
  template <class S>
  S operator()(const S& x) const {
    return std::sqrt(x);
  }
#if defined(EIGEN_VECTORIZE_SSE2)
  __m128 packetOp(const __m128& x) const { return _mm_sqrt_ps(x); }
  __m128d packetOp(const __m128d& x) const { return _mm_sqrt_pd(x); }
#endif
#if defined(EIGEN_VECTORIZE_AVX)
  __m256 packetOp(const __m256& x) const { return _mm256_sqrt_ps(x); }
  __m256d packetOp(const __m256d& x) const { return _mm256_sqrt_pd(x); }
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
  __m512 packetOp(const __m512& x) const { return _mm512_sqrt_ps(x); }
  __m512d packetOp(const __m512d& x) const { return _mm512_sqrt_pd(x); }
#endif
};

// sqrt(a), element-wise, correctly rounded: an expression, evaluated where it is assigned.
template <class Derived>
auto exact_sqrt(const Eigen::ArrayBase<Derived>& a) {
  return a.unaryExpr(ExactSqrt{});
}

}  // namespace mlp::detail

namespace Eigen::internal {

template <>
struct functor_traits<mlp::detail::ExactSqrt> {
  enum {
    Cost = 5 * NumTraits<float>::MulCost,
#if defined(EIGEN_VECTORIZE_SSE2)
    PacketAccess = true  // every x86 packet type Eigen uses has its overload above
#else
    PacketAccess = false  // elsewhere one element at a time, through std::sqrt
#endif
  };
};

}  // namespace Eigen::internal
