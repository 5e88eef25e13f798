// bfloat16 scalars: the rounding of a float to bf16 and the arithmetic of one lane of the AVX512_BF16
// dot product, written out in portable C++ so that the fallback GEMM gives the same bits as the
// instruction (see docs/bf16.md).
//
// vcvtneps2bf16 (float -> bf16): round to nearest even; a NaN keeps its sign and top payload bits and
// becomes quiet; a denormal becomes a zero of the same sign. MXCSR is neither read nor written.
//
// vdpbf16ps, per 32-bit lane i of (acc, a, b), a and b holding two bf16 each (Intel SDM pseudo-code,
// checked on the hardware):
//     acc = fma(a.bf16[2i+1], b.bf16[2i+1], acc)    the odd (high) element first,
//     acc = fma(a.bf16[2i],   b.bf16[2i],   acc)    then the even (low) one,
// each an fp32 fused multiply-add with denormal inputs read as zero (DAZ), round to nearest even,
// and a tiny result (tininess detected after rounding, as x86 does) flushed to a zero of its sign
// (FTZ), whatever MXCSR says. A bf16 x bf16 product is exact in fp32 unless it underflows, which the
// fused form handles. A NaN result is a quieted copy of the first NaN among a, b, acc (in that
// order); an invalid operation (inf * 0, inf - inf) without a NaN operand gives the default NaN
// 0xFFC00000.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mlp::detail {

inline std::uint32_t float_bits(float x) {
  std::uint32_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) {
  float x = 0.0f;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// float -> bf16 bits, exactly as vcvtneps2bf16.
inline std::uint16_t to_bf16(float x) {
  const std::uint32_t u = float_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // NaN
  if ((u & 0x7F800000u) == 0) return static_cast<std::uint16_t>((u >> 16) & 0x8000u);  // 0, denormal
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline float from_bf16(std::uint16_t h) { return bits_float(static_cast<std::uint32_t>(h) << 16); }

// The 32-bit word vdpbf16ps reads for one pair of consecutive k: the even k in the low half.
inline std::uint32_t bf16_pair(float even, float odd) {
  return static_cast<std::uint32_t>(to_bf16(even)) | (static_cast<std::uint32_t>(to_bf16(odd)) << 16);
}

// Denormals read as zero (keeping the sign).
inline float denormal_as_zero(float x) {
  return (float_bits(x) & 0x7F800000u) == 0 ? std::copysign(0.0f, x) : x;
}

inline float quiet_nan(float x) { return bits_float(float_bits(x) | 0x00400000u); }

// The NaN vdpbf16ps gives for one multiply-add whose result is NaN.
inline float dp_nan_result(float acc, float a, float b) {
  if (std::isnan(a)) return quiet_nan(a);
  if (std::isnan(b)) return quiet_nan(b);
  if (std::isnan(acc)) return quiet_nan(acc);
  return bits_float(0xFFC00000u);
}

// Flush-to-zero with tininess after rounding: only a result of magnitude exactly 2^-126 is in
// doubt (the fma rounded it on the denormal grid). Redo the fma 2^64 times larger, in the normal
// range, to see whether the exact value rounds to 2^-126 with a 24-bit significand. The smaller
// factor is scaled; the magnitudes involved are far from overflow (|acc|, |a b| < 2^41 here).
inline float dp_round_at_min_normal(float r, float acc, float a, float b) {
  constexpr float kScale = 0x1p64f;
  const bool scale_a = std::fabs(a) <= std::fabs(b);
  const float scaled = std::fma(scale_a ? a * kScale : a, scale_a ? b : b * kScale, acc * kScale);
  return std::fabs(scaled) < 0x1p-62f ? std::copysign(0.0f, r) : r;
}

// One multiply-add of vdpbf16ps: acc + a * b with DAZ, RNE, FTZ. Assumes the FPU is in its default
// mode (round to nearest, no FTZ/DAZ): the GEMM fallback sets it (DefaultFloatMode).
inline float dp_fma(float acc, float a, float b) {
  acc = denormal_as_zero(acc);
  a = denormal_as_zero(a);
  b = denormal_as_zero(b);
  const float r = std::fma(a, b, acc);
  const float mag = std::fabs(r);
  if (mag > 0x1p-126f) return r;  // normal or infinite (false for NaN)
  if (std::isnan(r)) return dp_nan_result(acc, a, b);
  if (mag < 0x1p-126f) return std::copysign(0.0f, r);
  return dp_round_at_min_normal(r, acc, a, b);
}

// One lane of vdpbf16ps: two multiply-adds, the high (odd k) element first.
inline float dpbf16_lane(float acc, std::uint32_t a_pair, std::uint32_t b_pair) {
  acc = dp_fma(acc, from_bf16(static_cast<std::uint16_t>(a_pair >> 16)),
               from_bf16(static_cast<std::uint16_t>(b_pair >> 16)));
  return dp_fma(acc, from_bf16(static_cast<std::uint16_t>(a_pair & 0xFFFFu)),
                from_bf16(static_cast<std::uint16_t>(b_pair & 0xFFFFu)));
}

}  // namespace mlp::detail
