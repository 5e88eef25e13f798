// Run-time CPU feature detection (x86-64 with GCC or Clang; every feature is absent elsewhere).
//
// AVX-512 code needs the AVX512F instructions (cpuid leaf 7 subleaf 0, EBX bit 16) and an operating
// system that saves the AVX-512 registers on a context switch (OSXSAVE, then XCR0 bits 1-2 for
// SSE/AVX state and 5-7 for the opmask and the 512-bit registers). AVX512_BF16 needs the same,
// its own bit (cpuid leaf 7 subleaf 1, EAX bit 5) and AVX512BW and VL (leaf 7 subleaf 0, EBX bits
// 30, 31).
#pragma once

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define MLP_X86_CPUID 1
#endif

// Code for AVX-512 is compiled into functions marked MLP_AVX512F_TARGET (fp32 products; plain
// "avx512f", so that GCC inlines them into the bf16 code, whose target does not include "fma") or
// MLP_AVX512BF16_TARGET, so that the library needs no compile flag; it runs only after
// cpu_has_avx512f() or cpu_has_avx512_bf16() said yes. GCC 10 and Clang 9 brought the intrinsics.
#if defined(__x86_64__) && ((defined(__clang__) && __clang_major__ >= 9) || \
                            (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10))
#define MLP_HAVE_AVX512F_CODE 1
#define MLP_AVX512F_TARGET __attribute__((target("avx512f")))
#define MLP_HAVE_AVX512BF16_CODE 1
#define MLP_AVX512BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#endif

namespace mlp::detail {

#ifdef MLP_X86_CPUID
// cpuid(leaf, subleaf) -> {eax, ebx, ecx, edx}; all zero when the leaf is beyond the maximum.
struct CpuidRegisters { unsigned eax = 0, ebx = 0, ecx = 0, edx = 0; };

inline CpuidRegisters cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegisters r;
  if (static_cast<unsigned>(__get_cpuid_max(leaf & 0x80000000u, nullptr)) < leaf) return r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// XCR0 (the state components the OS enables); call only when OSXSAVE is set.
inline unsigned long long xgetbv0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

// Whether the OS saves the AVX-512 state.
inline bool os_saves_avx512() {
  const CpuidRegisters l1 = cpuid(1, 0);
  const bool osxsave = (l1.ecx >> 27) & 1u;
  if (!osxsave) return false;
  const unsigned long long avx512_state = 0xE6;  // XMM, YMM, opmask, ZMM0-15 upper, ZMM16-31
  return (xgetbv0() & avx512_state) == avx512_state;
}

inline bool detect_avx512f() { return os_saves_avx512() && ((cpuid(7, 0).ebx >> 16) & 1u); }

inline bool detect_avx512_bf16() {
  if (!os_saves_avx512()) return false;
  const CpuidRegisters l7 = cpuid(7, 0);
  const bool f = (l7.ebx >> 16) & 1u, bw = (l7.ebx >> 30) & 1u, vl = (l7.ebx >> 31) & 1u;
  if (!(f && bw && vl) || l7.eax < 1) return false;  // l7.eax: the highest subleaf of leaf 7
  const CpuidRegisters l7s1 = cpuid(7, 1);
  return (l7s1.eax >> 5) & 1u;
}
#else
inline bool detect_avx512f() { return false; }
inline bool detect_avx512_bf16() { return false; }
#endif

// Whether this CPU and OS run AVX512F code. Detected once per process.
inline bool cpu_has_avx512f() {
  static const bool has = detect_avx512f();
  return has;
}

// Whether this CPU and OS run AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16) and AVX512F/BW/VL code.
// Detected once per process.
inline bool cpu_has_avx512_bf16() {
  static const bool has = detect_avx512_bf16();
  return has;
}

}  // namespace mlp::detail
