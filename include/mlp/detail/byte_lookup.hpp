// out[i] = table[bytes[i]] for a 256-entry table: how DataLoader turns 8-bit pixels into
// standardized values. Every value is a copy of a table entry, so any way of doing it gives the same
// bits.
//
// Why a kernel: the loader runs on the training thread between steps, and a scalar loop (a byte
// load, a dependent table load and a store per pixel) took 0.07-0.1 ms per batch of 128 images,
// 10-16% of a small MLP's step. On a CPU with AVX512F the table sits in 16 registers and 16 pixels
// are looked up at once: a two-register permute picks within each run of 32 entries, three blends
// on the index's bits 5, 6 and 7 pick the run.
#pragma once

#include "mlp/core/types.hpp"
#include "mlp/detail/avx512_tiles.hpp"
#include "mlp/detail/cpu_features.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

#ifdef MLP_HAVE_AVX512F_CODE
#include <immintrin.h>
#endif

namespace mlp::detail {

template <class S>
void lookup_bytes_portable(const std::uint8_t* bytes, Index n, const S* table, S* out) {
  for (Index i = 0; i < n; ++i) out[i] = table[bytes[i]];
}

#ifdef MLP_HAVE_AVX512F_CODE
// A 256-entry float table held in registers.
struct ByteTable16 {
  __m512 run[16];  // entries 16 r .. 16 r + 15
};

MLP_AVX512F_TARGET inline void load_byte_table(const float* table, ByteTable16& t) {
  for (std::size_t r = 0; r < 16; ++r) t.run[r] = _mm512_loadu_ps(table + 16 * r);
}

// The entries for 16 bytes.
MLP_AVX512F_TARGET inline __m512 lookup_16_bytes(const ByteTable16& t, __m128i bytes) {
  // The maskz form: the plain one starts from an "undefined" register, which GCC 12 -O2 warns about.
  const __m512i index = _mm512_maskz_cvtepu8_epi32(static_cast<__mmask16>(0xFFFF), bytes);
  // permutex2var reads the index's low 5 bits: entry (index mod 32) of each run of 32.
  __m512 of_run[8];
  for (std::size_t r = 0; r < 8; ++r) of_run[r] = _mm512_permutex2var_ps(t.run[2 * r], index, t.run[2 * r + 1]);
  const __mmask16 bit5 = _mm512_test_epi32_mask(index, _mm512_set1_epi32(32));
  const __mmask16 bit6 = _mm512_test_epi32_mask(index, _mm512_set1_epi32(64));
  const __mmask16 bit7 = _mm512_test_epi32_mask(index, _mm512_set1_epi32(128));
  __m512 of_64[4];
  for (std::size_t r = 0; r < 4; ++r) of_64[r] = _mm512_mask_blend_ps(bit5, of_run[2 * r], of_run[2 * r + 1]);
  const __m512 low = _mm512_mask_blend_ps(bit6, of_64[0], of_64[1]);
  const __m512 high = _mm512_mask_blend_ps(bit6, of_64[2], of_64[3]);
  return _mm512_mask_blend_ps(bit7, low, high);
}

MLP_AVX512F_TARGET inline void lookup_bytes_avx512(const std::uint8_t* bytes, Index n, const float* table,
                                                   float* out) {
  ByteTable16 t;
  load_byte_table(table, t);
  Index i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, lookup_16_bytes(t, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i))));
  }
  // The tail through a copy: nothing past bytes[n - 1] is read.
  if (i < n) {
    std::uint8_t tail[16] = {};
    std::memcpy(tail, bytes + i, static_cast<std::size_t>(n - i));
    _mm512_mask_storeu_ps(out + i, first_lanes(n - i),
                          lookup_16_bytes(t, _mm_loadu_si128(reinterpret_cast<const __m128i*>(tail))));
  }
}
#endif

// out[i] = table[bytes[i]], i < n; `table` has 256 entries.
template <class S>
void lookup_bytes(const std::uint8_t* bytes, Index n, const S* table, S* out) {
#ifdef MLP_HAVE_AVX512F_CODE
  if constexpr (std::is_same_v<S, float>) {
    if (cpu_has_avx512f()) {
      lookup_bytes_avx512(bytes, n, table, out);
      return;
    }
  }
#endif
  lookup_bytes_portable(bytes, n, table, out);
}

}  // namespace mlp::detail
