// The bf16 GEMM (mlp/detail/gemm_bf16.hpp): the AVX512_BF16 kernel and the portable fallback give
// the same bits, and both equal the element-by-element definition (a chain of vdpbf16ps lanes); the
// split of C among threads changes nothing; the error against exact arithmetic stays within the
// bound derived in docs/bf16.md. Tests that need the instruction are skipped (with a message) on a
// CPU without AVX512_BF16.
#include "alloc_counter.hpp"

#include <doctest/doctest.h>

#include <mlp/core/random.hpp>
#include <mlp/detail/gemm_bf16.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

namespace {

using mlp::Index;
using mlp::detail::Bf16Path;
using mlp::detail::bits_float;
using mlp::detail::float_bits;

bool fast_path_or_skip() {
  if (mlp::detail::gemm_bf16_fast_path_available()) return true;
  MESSAGE("skipped: this CPU has no AVX512_BF16, so only the portable path is tested");
  return false;
}

// One product: C (m x n) = op(A) op(B) (+ C), with leading dimensions `pad` larger than needed.
struct Case {
  Index m, n, k;
  bool ta, tb, accumulate;
  Index pad;
};

std::string describe(const Case& c) {
  return "m " + std::to_string(c.m) + ", n " + std::to_string(c.n) + ", k " + std::to_string(c.k) +
         (c.ta ? ", A^T" : "") + (c.tb ? ", B^T" : "") + (c.accumulate ? ", accumulate" : "") +
         ", pad " + std::to_string(c.pad);
}

struct Operands {
  Index lda, ldb, ldc;
  std::vector<float> a, b, c;
};

enum class Fill { Uniform, Special };

// Uniform in [-1, 1), or a mix of everything the instruction treats specially.
float draw(mlp::Rng& rng, Fill fill) {
  const float x = rng.uniform<float>(-1.0f, 1.0f);
  if (fill == Fill::Uniform || rng.below(3) != 0) return x;
  switch (rng.below(12)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return bits_float(static_cast<std::uint32_t>(rng.below(0x7FFFFF) + 1) | (x < 0 ? 0x80000000u : 0u));  // denormal
    case 3: return x * 0x1p-70f;   // products underflow
    case 4: return x * 0x1p+70f;   // products overflow
    case 5: return x * 0x1p-63f;   // products near the smallest normal
    case 6: return INFINITY;
    case 7: return -INFINITY;
    case 8: return bits_float(0x7FC00000u | static_cast<std::uint32_t>(rng.below(0x3FFFFF)));  // quiet NaN
    case 9: return bits_float(0xFF800000u | static_cast<std::uint32_t>(rng.below(0x3FFFFF) + 1));  // signalling
    case 10: return 1.0f + 0x1p-8f;  // a bf16 tie
    default: return bits_float(float_bits(x) & 0xFFFF8000u);  // ties and near-ties
  }
}

Operands make(const Case& c, std::uint64_t seed, Fill fill) {
  mlp::Rng rng(seed);
  Operands o;
  o.lda = (c.ta ? c.k : c.m) + c.pad;
  o.ldb = (c.tb ? c.n : c.k) + c.pad;
  o.ldc = c.m + c.pad;
  o.a.resize(static_cast<std::size_t>(o.lda * (c.ta ? c.m : c.k)));
  o.b.resize(static_cast<std::size_t>(o.ldb * (c.tb ? c.k : c.n)));
  o.c.resize(static_cast<std::size_t>(o.ldc * c.n));
  for (auto* v : {&o.a, &o.b, &o.c})
    for (float& x : *v) x = draw(rng, fill);
  return o;
}

std::vector<float> product(const Case& c, const Operands& o, Bf16Path path, mlp::detail::GemmWorkspace& ws) {
  std::vector<float> out = o.c;
  mlp::detail::gemm_bf16(c.m, c.n, c.k, o.a.data(), o.lda, c.ta, o.b.data(), o.ldb, c.tb, out.data(), o.ldc,
                         c.accumulate, ws, path);
  return out;
}

float a_at(const Case& c, const Operands& o, Index i, Index kk) {
  return kk >= c.k ? 0.0f : c.ta ? o.a[static_cast<std::size_t>(kk + i * o.lda)]
                                 : o.a[static_cast<std::size_t>(i + kk * o.lda)];
}
float b_at(const Case& c, const Operands& o, Index kk, Index j) {
  return kk >= c.k ? 0.0f : c.tb ? o.b[static_cast<std::size_t>(j + kk * o.ldb)]
                                 : o.b[static_cast<std::size_t>(kk + j * o.ldb)];
}

// The definition, element by element: a chain of vdpbf16ps lanes over the pairs of k.
std::vector<float> definition(const Case& c, const Operands& o) {
  std::vector<float> out = o.c;
  for (Index j = 0; j < c.n; ++j) {
    for (Index i = 0; i < c.m; ++i) {
      float& x = out[static_cast<std::size_t>(i + j * o.ldc)];
      float acc = c.accumulate ? x : 0.0f;
      for (Index p = 0; 2 * p < c.k; ++p) {
        acc = mlp::detail::dpbf16_lane(acc, mlp::detail::bf16_pair(a_at(c, o, i, 2 * p), a_at(c, o, i, 2 * p + 1)),
                                       mlp::detail::bf16_pair(b_at(c, o, 2 * p, j), b_at(c, o, 2 * p + 1, j)));
      }
      x = acc;
    }
  }
  return out;
}

// "" when equal bit for bit (padding between columns included), else the first difference.
std::string difference(const std::vector<float>& x, const std::vector<float>& y, Index ld) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (float_bits(x[i]) != float_bits(y[i])) {
      char text[128];
      std::snprintf(text, sizeof text, "C(%ld, %ld): %08x vs %08x", static_cast<long>(static_cast<Index>(i) % ld),
                    static_cast<long>(static_cast<Index>(i) / ld), float_bits(x[i]), float_bits(y[i]));
      return text;
    }
  }
  return "";
}

// Shapes around every block edge: tiles (32 x 12), k pairs, kc, mc and nc.
std::vector<Case> shapes() {
  const mlp::detail::GemmBlocking bl;
  const Index kKc = bl.kc, kMc = bl.mc, kNc = bl.nc;
  const Index sizes[][3] = {{1, 1, 1},   {1, 1, 2},      {3, 5, 7},       {17, 13, 1},       {31, 11, 3},
                            {32, 12, 2}, {33, 13, 5},    {16, 1, 9},      {65, 25, 31},      {48, 24, 64},
                            {kMc + 1, 27, 6}, {40, kNc + 5, 4}, {45, 14, 2 * kKc + 3}, {7, 3, kKc + 1}};
  std::vector<Case> cases;
  int variant = 0;
  for (const auto& s : sizes) {
    for (int flags = 0; flags < 8; ++flags, ++variant)
      cases.push_back({s[0], s[1], s[2], (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0, variant % 3});
  }
  return cases;
}

#ifdef MLP_HAVE_AVX512BF16_CODE
// 16 lanes of vdpbf16ps, A as the first source.
MLP_AVX512BF16_TARGET void instruction(const float* acc, const std::uint32_t* a, const std::uint32_t* b, float* out) {
  const __m512 r = _mm512_dpbf16_ps(_mm512_loadu_ps(acc), reinterpret_cast<__m512bh>(_mm512_loadu_si512(a)),
                                    reinterpret_cast<__m512bh>(_mm512_loadu_si512(b)));
  _mm512_storeu_ps(out, r);
}
#endif

std::uint32_t bf16_pair_bits(std::uint16_t even, std::uint16_t odd) {
  return static_cast<std::uint32_t>(even) | (static_cast<std::uint32_t>(odd) << 16);
}

std::uint16_t bf(float x) { return mlp::detail::to_bf16(x); }

}  // namespace

TEST_CASE("bf16: rounding to nearest even, NaN quieted, denormals flushed (as vcvtneps2bf16)") {
  using mlp::detail::to_bf16;
  CHECK(to_bf16(1.0f) == 0x3F80);
  CHECK(to_bf16(1.0f + 0x1p-8f) == 0x3F80);              // tie, to the even 1.0
  CHECK(to_bf16(1.0f + 3 * 0x1p-8f) == 0x3F82);          // tie, to the even 1 + 2^-6
  CHECK(to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3F81);   // above the tie
  CHECK(to_bf16(-1.0f - 0x1p-8f - 0x1p-20f) == 0xBF81);
  CHECK(to_bf16(0x1.fffffep127f) == 0x7F80);             // rounds up to infinity
  CHECK(to_bf16(-INFINITY) == 0xFF80);
  CHECK(to_bf16(-0.0f) == 0x8000);
  CHECK(to_bf16(bits_float(0x807FFFFFu)) == 0x8000);     // denormal -> signed zero
  CHECK(to_bf16(bits_float(0x00000001u)) == 0x0000);
  CHECK(to_bf16(0x1p-126f) == 0x0080);                   // the smallest normal stays
  CHECK(to_bf16(bits_float(0x7F800001u)) == 0x7FC0);     // signalling NaN -> quiet, payload truncated
  CHECK(to_bf16(bits_float(0xFFA5A5A5u)) == 0xFFE5);
  CHECK(to_bf16(bits_float(0x7FFFFFFFu)) == 0x7FFF);     // never rounds a NaN into infinity
}

TEST_CASE("bf16: the AVX-512 packing rounds every kind of float as the portable packing") {
  if (!fast_path_or_skip()) return;
#ifdef MLP_HAVE_AVX512BF16_CODE
  // 2^20 random bit patterns (every class of float) plus the specials, through both packing orders.
  mlp::Rng rng(7);
  const Index width = 32, kc = 33;  // odd kc: the last pair's high half is padding
  std::vector<float> src(static_cast<std::size_t>(width * kc));
  std::vector<std::uint32_t> portable(static_cast<std::size_t>(width * 17)), fast(portable.size());
  for (int round = 0; round < 1000; ++round) {
    for (float& x : src) x = bits_float(static_cast<std::uint32_t>(rng.next_u64()));
    if (round == 0) {
      const std::uint32_t special[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x7F800000u,
                                       0xFF800000u, 0x7F800001u, 0x7FFFFFFFu, 0x3F808000u, 0x3F818000u,
                                       0x7F7FFFFFu, 0x00800000u, 0x3F807FFFu};
      for (std::size_t i = 0; i < std::size(special); ++i) src[i] = bits_float(special[i]);
    }
    for (const bool entries_contiguous : {true, false}) {
      const Index count = round % 2 ? width : width - 5;
      const mlp::detail::PanelSource s = entries_contiguous ? mlp::detail::PanelSource{src.data(), 1, width, count, kc}
                                                            : mlp::detail::PanelSource{src.data(), kc, 1, count, kc};
      mlp::detail::pack_panel_portable(s, width, portable.data());
      if (entries_contiguous) {
        mlp::detail::pack_block_avx512_entries(s, width, fast.data());
      } else {
        mlp::detail::pack_panel_avx512_k(s, width, fast.data());
      }
      REQUIRE(portable == fast);
    }
  }
#endif
}

TEST_CASE("bf16: one lane of vdpbf16ps, as the portable model computes it") {
  using mlp::detail::dpbf16_lane;
  const auto lane = [](float acc, float a_odd, float b_odd, float a_even, float b_even) {
    return dpbf16_lane(acc, bf16_pair_bits(bf(a_even), bf(a_odd)), bf16_pair_bits(bf(b_even), bf(b_odd)));
  };
  // Two roundings, the odd (high) element first.
  CHECK(lane(1.0f, 0x1p-24f, 1.0f, 0x1p-24f, 1.0f) == 1.0f);
  CHECK(lane(1.0f, -1.0f, 1.0f, 0x1p-30f, 1.0f) == 0x1p-30f);
  CHECK(lane(1.0f, 0x1p-30f, 1.0f, -1.0f, 1.0f) == 0.0f);
  // Denormals: the accumulator read as zero; tiny results flushed to a zero of their sign, with
  // tininess after rounding; an intermediate result flushed too.
  CHECK(float_bits(lane(bits_float(0x80000001u), -0.0f, 1.0f, -0.0f, 1.0f)) == 0x80000000u);
  CHECK(float_bits(lane(-0.0f, -0x1p-70f, 0x1p-70f, -0.0f, 1.0f)) == 0x80000000u);
  CHECK(lane(0x1p-120f, 0x1p-70f, 0x1p-70f, 0.0f, 0.0f) == 0x1.00001p-120f);  // fused: not flushed
  CHECK(lane(0x1.8p-126f, -0x1p-126f, 1.0f, 0x1p-126f, 1.0f) == 0x1p-126f);
  CHECK(lane(0x1p-126f, -0x1p-76f, 0x1p-75f, 0.0f, 0.0f) == 0x1p-126f);         // rounds up to normal
  CHECK(lane(0x1p-126f, -0x1.8p-76f, 0x1p-75f, 0.0f, 0.0f) == 0.0f);            // stays tiny
  // Infinities and NaN: a's NaN, then b's, then the accumulator's; invalid gives the default NaN.
  CHECK(lane(0x1.fffffep127f, 0x1p127f, 1.0f, 0.0f, 0.0f) == INFINITY);
  CHECK(float_bits(lane(1.0f, INFINITY, 0.0f, 0.0f, 0.0f)) == 0xFFC00000u);
  CHECK(float_bits(lane(bits_float(0x7FC00300u), INFINITY, 0.0f, 0.0f, 0.0f)) == 0x7FC00300u);
  CHECK(float_bits(lane(bits_float(0x7FC00300u), bits_float(0x7FC10000u), bits_float(0x7FC20000u), 0.0f, 0.0f)) ==
        0x7FC10000u);
  CHECK(float_bits(lane(bits_float(0x7FC00300u), 1.0f, bits_float(0x7FC20000u), 0.0f, 0.0f)) == 0x7FC20000u);
  CHECK(float_bits(lane(1.0f, bits_float(0x7FC10000u), 1.0f, bits_float(0xFFC30000u), 1.0f)) == 0xFFC30000u);
  CHECK(float_bits(lane(bits_float(0x7F800001u), 0.0f, 0.0f, 0.0f, 0.0f)) == 0x7FC00001u);
}

TEST_CASE("bf16: the portable lane equals vdpbf16ps on this CPU, bit for bit") {
  if (!fast_path_or_skip()) return;
#ifdef MLP_HAVE_AVX512BF16_CODE
  mlp::Rng rng(11);
  float acc[16], hw[16];
  std::uint32_t a[16], b[16];
  const auto bf16_bits = [&]() -> std::uint16_t {
    switch (rng.below(4)) {
      case 0: return static_cast<std::uint16_t>(rng.next_u64());  // anything, NaN and denormal too
      case 1: return static_cast<std::uint16_t>(((40 + rng.below(60)) << 7) | rng.below(0x100));  // tiny
      case 2: return static_cast<std::uint16_t>(((112 + rng.below(30)) << 7) | rng.below(0x100));
      default: return bf(draw(rng, Fill::Special));
    }
  };
  for (int round = 0; round < 50000; ++round) {
    for (int i = 0; i < 16; ++i) {
      a[i] = bf16_pair_bits(bf16_bits(), bf16_bits());
      b[i] = bf16_pair_bits(bf16_bits(), bf16_bits());
      const float p = mlp::detail::from_bf16(static_cast<std::uint16_t>(a[i] >> 16)) *
                      mlp::detail::from_bf16(static_cast<std::uint16_t>(b[i] >> 16));
      // The accumulator: anything, near the smallest normal, or cancelling the first product.
      const std::uint64_t kind = rng.below(3);
      acc[i] = kind == 0 ? bits_float(static_cast<std::uint32_t>(rng.next_u64()))
               : kind == 1 ? std::ldexp(rng.uniform<float>(-2.0f, 2.0f), -125)
                           : -p + std::ldexp(static_cast<float>(rng.below(7)) - 3.0f, -149);
    }
    instruction(acc, a, b, hw);
    for (int i = 0; i < 16; ++i) {
      const float model = mlp::detail::dpbf16_lane(acc[i], a[i], b[i]);
      if (float_bits(model) != float_bits(hw[i])) {
        FAIL_CHECK("acc " << float_bits(acc[i]) << " a " << a[i] << " b " << b[i] << ": instruction "
                          << float_bits(hw[i]) << ", model " << float_bits(model));
      }
    }
  }
#endif
}

TEST_CASE("gemm_bf16: the portable path equals the element-by-element definition") {
  mlp::detail::GemmWorkspace ws;
  std::uint64_t seed = 100;
  for (const Case& c : shapes()) {
    if (c.m * c.n * c.k > 200000) continue;  // the definition is slow
    for (const Fill fill : {Fill::Uniform, Fill::Special}) {
      const Operands o = make(c, ++seed, fill);
      INFO(describe(c), fill == Fill::Special ? ", special values" : "");
      CHECK(difference(product(c, o, Bf16Path::Portable, ws), definition(c, o), o.ldc) == "");
    }
  }
}

TEST_CASE("gemm_bf16: the AVX512_BF16 path gives the bits of the portable path") {
  if (!fast_path_or_skip()) return;
  mlp::detail::GemmWorkspace ws;
  std::uint64_t seed = 200;
  for (const Case& c : shapes()) {
    for (const Fill fill : {Fill::Uniform, Fill::Special}) {
      const Operands o = make(c, ++seed, fill);
      INFO(describe(c), fill == Fill::Special ? ", special values" : "");
      CHECK(difference(product(c, o, Bf16Path::Auto, ws), product(c, o, Bf16Path::Portable, ws), o.ldc) == "");
    }
  }
}

TEST_CASE("gemm_bf16_finished: a bias start and a ReLU or its mask give the bits of the fill, the product and the pass") {
  // Both paths, at 1, 2 and 3 threads; r holds every special kind of float (denormals read as zero
  // by the instruction, as when they stand in C), and so does the mask.
  const bool fast = mlp::detail::gemm_bf16_fast_path_available();
  mlp::detail::GemmWorkspace ws;
  std::uint64_t seed = 700;
  const int saved = Eigen::nbThreads();
  std::vector<Case> cases = shapes();
  // Large enough to be split among threads: by columns, and by rows in several blocks of mc.
  cases.push_back({300, 200, 150, false, false, false, 1});
  cases.push_back({600, 40, 200, true, false, false, 0});
  for (const Case& c : cases) {
    if (c.accumulate) continue;
    const Operands o = make(c, ++seed, Fill::Special);
    mlp::Rng rng(seed);
    std::vector<float> rows(static_cast<std::size_t>(c.m)), mask(static_cast<std::size_t>(o.ldc * c.n));
    for (float& x : rows) x = draw(rng, Fill::Special);
    for (float& x : mask) x = draw(rng, Fill::Special);
    using Finish = mlp::detail::GemmFinish<float>;
    for (const Finish& finish : {Finish{}, Finish::relu(), Finish::relu_mask(mask.data(), o.ldc)}) {
      for (const bool with_rows : {true, false}) {
        for (const Bf16Path path : {Bf16Path::Portable, fast ? Bf16Path::Auto : Bf16Path::Portable}) {
          std::vector<float> expected = o.c;
          for (Index j = 0; j < c.n; ++j) {
            for (Index i = 0; i < c.m; ++i) expected[static_cast<std::size_t>(i + j * o.ldc)] = with_rows ? rows[static_cast<std::size_t>(i)] : 0.0f;
          }
          mlp::detail::gemm_bf16(c.m, c.n, c.k, o.a.data(), o.lda, c.ta, o.b.data(), o.ldb, c.tb, expected.data(),
                                 o.ldc, true, ws, path);
          for (Index j = 0; j < c.n; ++j) {
            for (Index i = 0; i < c.m; ++i) {
              float& x = expected[static_cast<std::size_t>(i + j * o.ldc)];
              if (finish.kind == Finish::Kind::Relu) x = std::max(x, 0.0f);
              if (finish.kind == Finish::Kind::ReluMask) x = mask[static_cast<std::size_t>(i + j * o.ldc)] > 0.0f ? x : 0.0f;
            }
          }
          for (const int threads : {1, 3}) {
            if (threads > 1 && path == Bf16Path::Portable && fast) continue;  // the fast path checks the split
            Eigen::setNbThreads(threads);
            std::vector<float> got = o.c;
            mlp::detail::gemm_bf16_finished(c.m, c.n, c.k, o.a.data(), o.lda, c.ta, o.b.data(), o.ldb, c.tb,
                                            with_rows ? rows.data() : nullptr, got.data(), o.ldc, finish, ws, path);
            INFO(describe(c), path == Bf16Path::Auto ? " (AVX512_BF16)" : " (portable)", ", ", threads,
                 " threads, finish ", static_cast<int>(finish.kind), with_rows ? ", rows" : "");
            CHECK(difference(got, expected, o.ldc) == "");
          }
          Eigen::setNbThreads(saved);
        }
      }
    }
  }
  // k = 0: C = r 1^T, finished.
  std::vector<float> c(6, 5.0f);
  const float one = 1.0f, r[2] = {3.0f, -2.0f};
  mlp::detail::gemm_bf16_finished(2, 3, 0, &one, 2, false, &one, 1, false, r, c.data(), 2, {}, ws);
  CHECK(c == std::vector<float>{3.0f, -2.0f, 3.0f, -2.0f, 3.0f, -2.0f});
  mlp::detail::gemm_bf16_finished(2, 3, 0, &one, 2, false, &one, 1, false, r, c.data(), 2,
                                  mlp::detail::GemmFinish<float>::relu(), ws);
  CHECK(c == std::vector<float>{3.0f, 0.0f, 3.0f, 0.0f, 3.0f, 0.0f});
}

TEST_CASE("gemm_bf16: special values propagate as the instruction does") {
  mlp::detail::GemmWorkspace ws;
  const Case c{3, 2, 4, false, false, true, 0};
  Operands o = make(c, 1, Fill::Uniform);
  const auto a = [&](Index i, Index k) -> float& { return o.a[static_cast<std::size_t>(i + k * o.lda)]; };
  const auto b = [&](Index k, Index j) -> float& { return o.b[static_cast<std::size_t>(k + j * o.ldb)]; };
  for (float& x : o.a) x = 1.0f;
  for (float& x : o.b) x = 1.0f;
  for (float& x : o.c) x = 0.0f;
  a(0, 1) = bits_float(0x7F812345u);  // a signalling NaN in row 0: quieted, low payload bits dropped
  a(1, 2) = INFINITY;                 // row 1: inf * 0 in column 0 -> default NaN; inf in column 1
  b(2, 0) = 0.0f;
  a(2, 0) = bits_float(0x00400000u);  // row 2: a denormal reads as zero ...
  b(0, 1) = 0x1p100f;                 // ... even against 2^100
  for (const Bf16Path path : {Bf16Path::Auto, Bf16Path::Portable}) {
    const std::vector<float> r = product(c, o, path, ws);
    const auto at = [&](Index i, Index j) { return float_bits(r[static_cast<std::size_t>(i + j * o.ldc)]); };
    CHECK(at(0, 0) == 0x7FC10000u);
    CHECK(at(0, 1) == 0x7FC10000u);
    CHECK(at(1, 0) == 0xFFC00000u);
    CHECK(at(1, 1) == float_bits(INFINITY));
    CHECK(at(2, 0) == float_bits(2.0f));  // b(2, 0) = 0 too
    CHECK(at(2, 1) == float_bits(3.0f));
  }
  // Signed zeros: -0 + (-0 x 1) stays -0 for an even k; for an odd k the padding adds 0 x 0 = +0.
  for (const Index k : {2, 3}) {
    const Case z{1, 1, k, false, false, true, 0};
    Operands oz = make(z, 2, Fill::Uniform);
    for (float& x : oz.a) x = -0.0f;
    for (float& x : oz.b) x = 1.0f;
    oz.c[0] = -0.0f;
    for (const Bf16Path path : {Bf16Path::Auto, Bf16Path::Portable})
      CHECK(float_bits(product(z, oz, path, ws)[0]) == (k == 2 ? 0x80000000u : 0u));
  }
}

TEST_CASE("gemm_bf16: any split of C among threads, and any blocking, gives the same bits") {
  // The driver gives each thread whole columns (or rows) of C; here the blocks are computed one
  // after the other with gemm_bf16_block, split anywhere, and compared with the one-block product.
  const bool fast = mlp::detail::gemm_bf16_fast_path_available();
  const Case c{70, 50, 37, false, true, true, 1};
  const Operands o = make(c, 3, Fill::Special);
  const mlp::detail::GemmProblem whole{c.m, c.n, c.k, o.a.data(), o.lda, c.ta, o.b.data(), o.ldb, c.tb,
                                       nullptr, o.ldc, c.accumulate};
  std::vector<std::uint32_t> pa(mlp::detail::packed_a_words(c.m, c.k)), pb(mlp::detail::packed_b_words(c.n, c.k));
  for (const bool path_fast : {false, fast}) {
    std::vector<float> one = o.c;
    mlp::detail::GemmProblem g = whole;
    g.c = one.data();
    mlp::detail::gemm_bf16_block(g, 0, c.m, 0, c.n, pa.data(), pb.data(), path_fast);
    for (const Index cut : {Index{1}, Index{12}, Index{25}, Index{32}, Index{49}}) {
      std::vector<float> rows = o.c, cols = o.c;
      g.c = rows.data();
      mlp::detail::gemm_bf16_block(g, 0, std::min(cut, c.m), 0, c.n, pa.data(), pb.data(), path_fast);
      mlp::detail::gemm_bf16_block(g, std::min(cut, c.m), c.m, 0, c.n, pa.data(), pb.data(), path_fast);
      g.c = cols.data();
      mlp::detail::gemm_bf16_block(g, 0, c.m, 0, cut, pa.data(), pb.data(), path_fast);
      mlp::detail::gemm_bf16_block(g, 0, c.m, cut, c.n, pa.data(), pb.data(), path_fast);
      INFO("cut at ", cut, path_fast ? " (AVX512_BF16)" : " (portable)");
      CHECK(difference(rows, one, o.ldc) == "");
      CHECK(difference(cols, one, o.ldc) == "");
    }
  }
  // The driver's own split for 2, 3 and 4 threads, part after part on this thread.
  for (const Case& t : {Case{200, 40, 50, true, false, false, 0}, Case{40, 200, 50, false, true, true, 0},
                        Case{40, 9, 300, false, true, false, 0}}) {
    const Operands ot = make(t, 12, Fill::Special);
    std::vector<std::uint32_t> pa_t(mlp::detail::packed_a_words(t.m, t.k)), pb_t(mlp::detail::packed_b_words(t.n, t.k));
    mlp::detail::GemmProblem g{t.m, t.n, t.k, ot.a.data(), ot.lda, t.ta, ot.b.data(), ot.ldb, t.tb, nullptr, ot.ldc,
                               t.accumulate};
    std::vector<float> one = ot.c;
    g.c = one.data();
    mlp::detail::gemm_bf16_block(g, 0, t.m, 0, t.n, pa_t.data(), pb_t.data(), fast);
    for (const int threads : {2, 3, 4}) {
      const mlp::detail::GemmSplit split(t.m, t.n, threads);
      CHECK(split.parts >= 2);  // (40 rows make only 3 parts of 16)
      std::vector<float> parts = ot.c;
      g.c = parts.data();
      for (int part = 0; part < split.parts; ++part) {
        const auto [p0, p1] = split.range(part);
        if (split.along_n) {
          mlp::detail::gemm_bf16_block(g, 0, t.m, p0, p1, pa_t.data(), pb_t.data(), fast);
        } else {
          mlp::detail::gemm_bf16_block(g, p0, p1, 0, t.n, pa_t.data(), pb_t.data(), fast);
        }
      }
      INFO(describe(t), ", ", threads, " threads");
      CHECK(difference(parts, one, ot.ldc) == "");
    }
  }
  // Nor does the blocking (kc, mc, nc), down to one pair of k and one tile.
  for (const bool path_fast : {false, fast}) {
    std::vector<float> reference = o.c;
    mlp::detail::GemmProblem g = whole;
    g.c = reference.data();
    mlp::detail::gemm_bf16_block(g, 0, c.m, 0, c.n, pa.data(), pb.data(), path_fast);
    for (const mlp::detail::GemmBlocking bl : {mlp::detail::GemmBlocking{2, 32, 12}, mlp::detail::GemmBlocking{6, 64, 24},
                                               mlp::detail::GemmBlocking{1000, 4096, 4104}}) {
      std::vector<float> other = o.c;
      std::vector<std::uint32_t> pa_bl(mlp::detail::packed_a_words(c.m, c.k, bl)),
          pb_bl(mlp::detail::packed_b_words(c.n, c.k, bl));
      g.c = other.data();
      mlp::detail::gemm_bf16_block(g, 0, c.m, 0, c.n, pa_bl.data(), pb_bl.data(), path_fast, bl);
      INFO("kc ", bl.kc, ", mc ", bl.mc, ", nc ", bl.nc, path_fast ? " (AVX512_BF16)" : " (portable)");
      CHECK(difference(other, reference, o.ldc) == "");
    }
  }
#ifdef _OPENMP
  mlp::detail::GemmWorkspace ws;
  const Case big{300, 200, 150, true, false, false, 0};
  const Operands ob = make(big, 4, Fill::Uniform);
  const int saved = Eigen::nbThreads();
  Eigen::setNbThreads(1);
  const std::vector<float> t1 = product(big, ob, Bf16Path::Auto, ws);
  Eigen::setNbThreads(2);
  const std::vector<float> t2 = product(big, ob, Bf16Path::Auto, ws);
  Eigen::setNbThreads(saved);
  CHECK(difference(t1, t2, ob.ldc) == "");
#endif
}

TEST_CASE("gemm_bf16: the caller's rounding and flush-to-zero modes change nothing") {
#ifdef MLP_HAVE_MXCSR
  mlp::detail::GemmWorkspace ws;
  const Case c{20, 9, 15, false, false, true, 0};
  const Operands o = make(c, 5, Fill::Special);
  const std::vector<float> expected = definition(c, o);
  const unsigned saved = mlp::detail::float_mode();
  const unsigned toward_zero = 0x6000u;
  for (const Bf16Path path : {Bf16Path::Auto, Bf16Path::Portable}) {
    mlp::detail::set_float_mode(saved | mlp::detail::kFtzDaz | toward_zero);
    const std::vector<float> r = product(c, o, path, ws);
    const unsigned after = mlp::detail::float_mode();
    mlp::detail::set_float_mode(saved);
    CHECK(difference(r, expected, o.ldc) == "");
    CHECK(after == (saved | mlp::detail::kFtzDaz | toward_zero));  // and the mode is given back
  }
#else
  MESSAGE("skipped: no MXCSR on this machine");
#endif
}

TEST_CASE("gemm_bf16: the error against exact arithmetic is within the derived bound") {
  // |C - C_exact| <= (2u + u^2 + gamma_K (1 + u)^2) sum_k |a_ik b_kj| + gamma_K |C0| + (K + 1) 2^-126
  // with u = 2^-8 (bf16 keeps 8 significant bits) and gamma_K = K 2^-24 / (1 - K 2^-24)
  // (docs/bf16.md). Inputs of mixed magnitudes, with cancellation; the exact value in double.
  mlp::detail::GemmWorkspace ws;
  for (const Case& c : {Case{64, 40, 1000, false, false, true, 0}, Case{33, 20, 1, false, true, false, 0},
                        Case{50, 30, 257, true, false, false, 0}}) {
    Operands o = make(c, 6, Fill::Uniform);
    mlp::Rng rng(9);
    for (float& x : o.a) x = std::ldexp(x, static_cast<int>(rng.below(20)) - 10);
    const std::vector<float> r = product(c, o, Bf16Path::Auto, ws);
    const double u = 0x1p-8, kd = static_cast<double>(c.k), gamma = kd * 0x1p-24 / (1.0 - kd * 0x1p-24);
    double worst = 0.0;
    for (Index j = 0; j < c.n; ++j) {
      for (Index i = 0; i < c.m; ++i) {
        const double c0 = c.accumulate ? static_cast<double>(o.c[static_cast<std::size_t>(i + j * o.ldc)]) : 0.0;
        double exact = c0, magnitude = 0.0;
        for (Index k = 0; k < c.k; ++k) {
          const double p = static_cast<double>(a_at(c, o, i, k)) * static_cast<double>(b_at(c, o, k, j));
          exact += p;
          magnitude += std::fabs(p);
        }
        const double bound = (2 * u + u * u + gamma * (1 + u) * (1 + u)) * magnitude + gamma * std::fabs(c0) +
                             (kd + 1) * 0x1p-126;
        const double error = std::fabs(static_cast<double>(r[static_cast<std::size_t>(i + j * o.ldc)]) - exact);
        worst = std::max(worst, error / bound);
        if (error > bound) FAIL_CHECK(describe(c) << ": C(" << i << ", " << j << ") off by " << error << " > " << bound);
      }
    }
    MESSAGE(describe(c) << ": the largest error is " << worst << " of the bound");
  }
}

TEST_CASE("gemm_bf16: trivial sizes, and no allocation once the workspace has grown") {
  mlp::detail::GemmWorkspace ws;
  std::vector<float> c(6, 5.0f);
  const float one = 1.0f;
  mlp::detail::gemm_bf16(2, 3, 0, &one, 2, false, &one, 1, false, c.data(), 2, true, ws);
  CHECK(c == std::vector<float>(6, 5.0f));  // k = 0, accumulate: unchanged
  mlp::detail::gemm_bf16(2, 3, 0, &one, 2, false, &one, 1, false, c.data(), 2, false, ws);
  CHECK(c == std::vector<float>(6, 0.0f));  // k = 0: C = 0
  mlp::detail::gemm_bf16(0, 3, 4, &one, 1, false, &one, 4, false, c.data(), 1, false, ws);  // nothing to do

  const Case big{300, 130, 200, false, false, false, 0};
  const Operands o = make(big, 8, Fill::Uniform);
  std::vector<float> out = o.c;
  for (const Bf16Path path : {Bf16Path::Auto, Bf16Path::Portable}) {
    mlp::detail::gemm_bf16(big.m, big.n, big.k, o.a.data(), o.lda, big.ta, o.b.data(), o.ldb, big.tb, out.data(),
                           o.ldc, false, ws, path);
    const mlp_test::AllocationProbe probe;
    for (const bool ta : {false, true})
      mlp::detail::gemm_bf16(big.m, big.n, big.k, o.a.data(), ta ? big.k : big.m, ta, o.b.data(), o.ldb, big.tb,
                             out.data(), o.ldc, true, ws, path);
    CHECK(probe.count() == 0);
  }
}
