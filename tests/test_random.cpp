#include "helpers.hpp"

#include <mlp/core/random.hpp>

#include <algorithm>
#include <numeric>
#include <set>

TEST_CASE("SplitMix64 reproduces the published reference outputs") {
  // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
  mlp::Rng rng(0);
  CHECK(rng.next_u64() == 0xe220a8397b1dcdafULL);
  CHECK(rng.next_u64() == 0x6e789e6aa1b965f4ULL);
  CHECK(rng.next_u64() == 0x06c45d188009454fULL);
}

TEST_CASE("Rng state can be saved and restored") {
  mlp::Rng a(123);
  a.next_u64();
  const auto state = a.state();
  const auto first = a.next_u64();
  mlp::Rng b(0);
  b.set_state(state);
  CHECK(b.next_u64() == first);
}

TEST_CASE("uniform numbers stay in the unit interval and have the right mean") {
  mlp::Rng rng(5);
  double sum = 0.0;
  float lo = 1.0f, hi = 0.0f;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float u = rng.uniform<float>();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += static_cast<double>(u);
  }
  CHECK(lo >= 0.0f);
  CHECK(hi < 1.0f);
  CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
  const double d = rng.uniform<double>(-2.0, 3.0);
  CHECK(d >= -2.0);
  CHECK(d < 3.0);
}

TEST_CASE("normal numbers have the requested mean and standard deviation") {
  mlp::Rng rng(11);
  const int n = 200000;
  double sum = 0.0, sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal<double>(1.5, 2.0);
    sum += z;
    sq += z * z;
  }
  const double mean = sum / n;
  CHECK(mean == doctest::Approx(1.5).epsilon(0.01));
  CHECK(std::sqrt(sq / n - mean * mean) == doctest::Approx(2.0).epsilon(0.01));
}

TEST_CASE("below(n) is uniform over 0 to n-1") {
  mlp::Rng rng(3);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[static_cast<std::size_t>(rng.below(7))];
  for (int c : counts) CHECK(c == doctest::Approx(10000).epsilon(0.05));
}

TEST_CASE("derive_seed separates components and indices") {
  std::set<std::uint64_t> seeds;
  for (const char* name : {"init", "dropout", "shuffle", "split"}) {
    for (std::uint64_t i = 0; i < 4; ++i) seeds.insert(mlp::derive_seed(42, name, i));
  }
  CHECK(seeds.size() == 16);
  CHECK(mlp::derive_seed(42, "init") == mlp::derive_seed(42, "init"));
  CHECK(mlp::derive_seed(42, "init") != mlp::derive_seed(43, "init"));
}

TEST_CASE("shuffle is a seeded permutation") {
  std::vector<int> a(1000);
  std::iota(a.begin(), a.end(), 0);
  auto b = a;
  auto c = a;
  mlp::Rng r1(9), r2(9), r3(10);
  mlp::shuffle(a, r1);
  mlp::shuffle(b, r2);
  mlp::shuffle(c, r3);
  CHECK(a == b);
  CHECK(a != c);
  std::sort(c.begin(), c.end());
  for (int i = 0; i < 1000; ++i) CHECK(c[static_cast<std::size_t>(i)] == i);
}
