// Seeded randomness that gives the same numbers on every platform.
//
// The engine is SplitMix64 (Steele, Lea & Flood, 2014): the state is one 64-bit counter that
// advances by a fixed odd constant, and each output is a bijective mix of the counter. It is fast,
// passes BigCrush, and its whole state is one integer, so a checkpoint can store and restore it.
// The distributions are written here instead of using <random>'s, whose algorithms differ between
// libstdc++, libc++ and MSVC: only integer arithmetic and exact float scaling are used for uniform
// numbers, so a seed means the same weights everywhere.
#pragma once

#include "mlp/core/types.hpp"

#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace mlp {

namespace detail {

// SplitMix64's output function: a bijective avalanche mix of 64 bits.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace detail

inline constexpr std::uint64_t kSplitMixGamma = 0x9e3779b97f4a7c15ULL;  // SplitMix64's increment

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : state_(seed) {}

  std::uint64_t next_u64() {
    state_ += kSplitMixGamma;
    return detail::mix64(state_);
  }

  // Uniform in [0, 1): the top 24 (float) or 53 (double) bits, scaled exactly.
  template <class S>
  S uniform() {
    if constexpr (sizeof(S) <= sizeof(float)) {
      return static_cast<S>(static_cast<float>(next_u64() >> 40) * 0x1p-24f);
    } else {
      return static_cast<S>(static_cast<double>(next_u64() >> 11) * 0x1p-53);
    }
  }

  // Uniform in [lo, hi).
  template <class S>
  S uniform(S lo, S hi) {
    return lo + (hi - lo) * uniform<S>();
  }

  // Normal(mean, stddev) by the Box-Muller transform, computed in double. One pair of uniforms per
  // call (the second normal is discarded) so the state stays a single counter.
  template <class S>
  S normal(S mean, S stddev) {
    const double u1 = 1.0 - uniform<double>();  // (0, 1]: log stays finite
    const double u2 = uniform<double>();
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    return static_cast<S>(static_cast<double>(mean) + static_cast<double>(stddev) * z);
  }

  // Uniform integer in [0, n), without modulo bias (rejects the short top range). n > 0.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t r = next_u64();
      if (r >= threshold) return r % n;
    }
  }

  std::uint64_t state() const { return state_; }
  void set_state(std::uint64_t state) { state_ = state; }

 private:
  std::uint64_t state_;
};

// Derives an independent seed for one component ("init", "dropout", "shuffle"...) from the master
// seed, so adding a random component never shifts the numbers drawn by another.
inline std::uint64_t derive_seed(std::uint64_t master, std::string_view component,
                                 std::uint64_t index = 0) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the component name
  for (const char c : component) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return detail::mix64(detail::mix64(master ^ detail::mix64(h)) + index);
}

// Fisher-Yates shuffle driven by rng: the same state gives the same permutation everywhere.
template <class T>
void shuffle(std::vector<T>& items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.below(i));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace mlp
