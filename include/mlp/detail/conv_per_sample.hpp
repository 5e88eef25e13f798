// The sums of a first convolution layer (few input channels, K = in_channels x kh x kw taps, e.g. 9
// for 3 x 3 on grey images), one sample at a time (Conv2d's ConvMethod::PerSample). A lowered matrix
// product with K = 9 is bound by writing its (n P) x O result, which then has to be copied into the
// layer's layout; here tiles of output channels and pixels are summed in registers and written
// once, where they belong.
//
// cols is one sample's im2col: P x K, column k (tap k) contiguous. The weight is O x K, column-major
// (Conv2d's W), so W(o, k) is w[o + k * O]. Both kernels use Eigen's packet operations, so they
// vectorize for whatever instruction set the build targets; the pixels left over after the last
// whole packet go one at a time.
#pragma once

#include "mlp/core/types.hpp"

#include <cstdint>
#include <type_traits>

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace mlp::detail {

namespace conv_per_sample_impl {

// v at `at`, an output packet: with Stream, streamed (a non-temporal store) where it is a float
// packet of the build's vectors at an address aligned for it; else stored as usual. Same values;
// stream_fence() after the last streamed one, before another thread reads them.
template <bool Stream, class S, class Packet>
void store_output(S* at, const Packet& v) {
  // The build's float packet, by its size (a vector type as a template argument loses its attributes).
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  constexpr bool floats = Stream && std::is_same_v<S, float> && sizeof(Packet) == L * sizeof(float);
  const bool aligned = reinterpret_cast<std::uintptr_t>(at) % (L * sizeof(S)) == 0;
#if defined(__AVX512F__)
  if constexpr (floats && L == 16) {
    if (aligned) return _mm512_stream_ps(at, v);
  }
#endif
#if defined(__AVX__)
  if constexpr (floats && L == 8) {
    if (aligned) return _mm256_stream_ps(at, v);
  }
#endif
#if defined(__SSE__)
  if constexpr (floats && L == 4) {
    if (aligned) return _mm_stream_ps(at, v);
  }
#endif
  static_cast<void>(aligned);
  Eigen::internal::pstoreu(at, v);
}

}  // namespace conv_per_sample_impl

// Orders the streamed stores of store_output before what follows (other threads' reads).
inline void stream_fence() {
#if defined(__SSE__)
  _mm_sfence();
#endif
}

namespace conv_per_sample_impl {

// Output channels [o0, o0 + N), pixels [p, p + R L): out_o[p..] = bias_o + sum_k W(o, k) cols(p.., k),
// N x R accumulators; each loaded packet of cols serves N channels, each broadcast weight R packets.
template <bool Stream, int N, int R, class S>
void taps_tile(const S* cols, Index P, Index K, const S* w, Index w_stride, const S* bias, Index o0, Index p,
               S* out) {
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  using Packet = typename Eigen::internal::packet_traits<S>::type;
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  Packet acc[N][R];
  for (int i = 0; i < N; ++i) {
    for (int r = 0; r < R; ++r) acc[i][r] = pset1<Packet>(S(0));
  }
  for (Index k = 0; k < K; ++k) {
    Packet c[R];
    for (int r = 0; r < R; ++r) c[r] = Eigen::internal::ploadu<Packet>(cols + k * P + p + r * L);
    for (int i = 0; i < N; ++i) {
      const Packet wk = pset1<Packet>(w[o0 + i + k * w_stride]);
      for (int r = 0; r < R; ++r) acc[i][r] = pmadd(c[r], wk, acc[i][r]);
    }
  }
  for (int i = 0; i < N; ++i) {
    const Packet b = pset1<Packet>(bias[o0 + i]);
    for (int r = 0; r < R; ++r) {
      store_output<Stream>(out + (o0 + i) * P + p + r * L, Eigen::internal::padd(acc[i][r], b));
    }
  }
}

// Output channels [o0, o0 + N) over all P pixels: tiles of R packets, then single packets, then the
// pixels left over one at a time.
template <bool Stream, int N, int R, class S>
void taps_channels(const S* cols, Index P, Index K, const S* w, Index w_stride, const S* bias, Index o0, S* out) {
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  Index p = 0;
  for (; p + R * L <= P; p += R * L) taps_tile<Stream, N, R>(cols, P, K, w, w_stride, bias, o0, p, out);
  for (; p + L <= P; p += L) taps_tile<Stream, N, 1>(cols, P, K, w, w_stride, bias, o0, p, out);
  for (; p < P; ++p) {
    for (Index i = o0; i < o0 + N; ++i) {
      S a = S(0);
      for (Index k = 0; k < K; ++k) a = Eigen::internal::pmadd(cols[k * P + p], w[i + k * w_stride], a);
      out[i * P + p] = a + bias[i];
    }
  }
}

}  // namespace conv_per_sample_impl

// One sample's output, O planes of P pixels: out[o P + p] = bias[o] + sum_k W(o, k) cols(p, k), a
// multiply-add per tap in tap order starting from zero, the bias added last (with Stream, whole
// packets streamed: call stream_fence() before other threads read out). Tiles of 8 channels x
// 1 packet of pixels (measured fastest of 1x4, 2x4, 4x3, 4x2, 8x1, 8x2, 12x1 and 16x1 for 9 to 75
// taps): each loaded packet of cols serves 8 multiply-adds, and 8 chains hide their latency.
template <bool Stream = false, class S>
void taps_weighted_sum(const S* cols, Index P, Index K, const S* w, Index O, const S* bias, S* out) {
  Index o = 0;
  for (; o + 8 <= O; o += 8) conv_per_sample_impl::taps_channels<Stream, 8, 1>(cols, P, K, w, O, bias, o, out);
  for (; o < O; ++o) conv_per_sample_impl::taps_channels<Stream, 1, 4>(cols, P, K, w, O, bias, o, out);
}

namespace conv_per_sample_impl {

// dw(o, k) += sum_p dy[o P + p] cols(p, k) for o in [o0, o0 + NO), k in [k0, k0 + NK): NO x NK
// accumulators, each loaded packet of dy serving NK taps and each packet of cols NO channels.
template <int NO, int NK, class S>
void gradient_tile(const S* cols, Index P, const S* dy, Index o0, Index k0, S* dw, Index w_stride) {
  using Eigen::internal::ploadu;
  using Eigen::internal::pmadd;
  using Packet = typename Eigen::internal::packet_traits<S>::type;
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  Packet acc[NO][NK];
  for (int i = 0; i < NO; ++i) {
    for (int j = 0; j < NK; ++j) acc[i][j] = Eigen::internal::pset1<Packet>(S(0));
  }
  Index p = 0;
  for (; p + L <= P; p += L) {
    Packet c[NK];
    for (int j = 0; j < NK; ++j) c[j] = ploadu<Packet>(cols + (k0 + j) * P + p);
    for (int i = 0; i < NO; ++i) {
      const Packet g = ploadu<Packet>(dy + (o0 + i) * P + p);
      for (int j = 0; j < NK; ++j) acc[i][j] = pmadd(g, c[j], acc[i][j]);
    }
  }
  for (int i = 0; i < NO; ++i) {
    for (int j = 0; j < NK; ++j) {
      S rest = S(0);
      for (Index q = p; q < P; ++q) rest += dy[(o0 + i) * P + q] * cols[(k0 + j) * P + q];
      dw[(o0 + i) + (k0 + j) * w_stride] += Eigen::internal::predux(acc[i][j]) + rest;
    }
  }
}

template <int NO, class S>
void gradient_channels(const S* cols, Index P, Index K, const S* dy, Index o0, S* dw, Index w_stride) {
  Index k = 0;
  for (; k + 4 <= K; k += 4) gradient_tile<NO, 4>(cols, P, dy, o0, k, dw, w_stride);
  switch (K - k) {
    case 3: return gradient_tile<NO, 3>(cols, P, dy, o0, k, dw, w_stride);
    case 2: return gradient_tile<NO, 2>(cols, P, dy, o0, k, dw, w_stride);
    case 1: return gradient_tile<NO, 1>(cols, P, dy, o0, k, dw, w_stride);
    default: return;
  }
}

}  // namespace conv_per_sample_impl

// One sample's share of the parameter gradients: dw[o + k O] += sum_p dy[o P + p] cols(p, k) and
// db[o] += sum_p dy[o P + p], with dy the sample's dL/dy (O planes of P pixels). Tiles of 4
// channels x 4 taps: sixteen independent chains of multiply-adds, and half a load per one.
template <class S>
void taps_gradient(const S* cols, Index P, Index K, const S* dy, Index O, S* dw, S* db) {
  Index o = 0;
  for (; o + 4 <= O; o += 4) conv_per_sample_impl::gradient_channels<4>(cols, P, K, dy, o, dw, O);
  for (; o < O; ++o) conv_per_sample_impl::gradient_channels<1>(cols, P, K, dy, o, dw, O);
  for (Index c = 0; c < O; ++c) db[c] += Eigen::Map<const Vector<S>>(dy + c * P, P).sum();
}

}  // namespace mlp::detail
