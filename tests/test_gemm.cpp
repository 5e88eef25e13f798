// detail::gemm, the products of Linear and Conv2d in float and double, with both kernels (the
// library's own fp32 kernel where the CPU has AVX512F, and Eigen's): correct against a plain triple
// loop in long double, and the same bits at 1, 2 and 3 threads; the own kernel gives exactly a
// chain of std::fma over k, and Eigen's kernel the bits of Eigen's own single-threaded product.
// The shapes exercise every edge of the kernels (rows not a multiple of either register block,
// columns not a multiple of 4 or 12, depths above either kc, strided operands).
#include "alloc_counter.hpp"
#include "helpers.hpp"

#include <mlp/core/threads.hpp>
#include <mlp/detail/gemm.hpp>

#include <doctest/doctest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

// In a namespace of their own: a unity build can put this file next to test_gemm_bf16.cpp.
namespace gemm_test {

using mlp::Index;
using mlp::detail::GemmKernel;

struct Shape3 {
  Index m, n, k;
  bool ta, tb;
};

std::string describe(const Shape3& s) {
  std::ostringstream out;
  out << s.m << " x " << s.n << " x " << s.k << (s.ta ? ", A^T" : "") << (s.tb ? ", B^T" : "");
  return out.str();
}

std::vector<Shape3> shapes() {
  std::vector<Shape3> list;
  // The study's products: Linear forward, dW, dx for M and L; Conv2d chunks.
  const Index fixed[][3] = {{1024, 128, 1024}, {256, 128, 784}, {256, 784, 128}, {784, 128, 256}, {10, 128, 128},
                            {128, 10, 128},    {37, 53, 61},    {300, 301, 302}, {3136, 64, 288}, {64, 288, 3136},
                            {3136, 288, 64},   {5, 1, 7},       {1000, 7, 1500}, {48, 4, 3},      {500, 999, 17},
                            {1, 200, 900},     {700, 2, 2000}};
  for (const auto& f : fixed)
    for (int t = 0; t < 4; ++t) list.push_back({f[0], f[1], f[2], (t & 1) != 0, (t & 2) != 0});
  std::mt19937 gen(12);
  for (int i = 0; i < 24; ++i) {
    list.push_back({1 + static_cast<Index>(gen() % 300), 1 + static_cast<Index>(gen() % 300),
                    1 + static_cast<Index>(gen() % 1100), (gen() & 1) != 0, (gen() & 1) != 0});
  }
  return list;
}

template <class S>
struct Operands {
  mlp::Matrix<S> a, b;  // stored with a leading dimension 3 larger than the rows
  Index lda, ldb;
};

template <class S>
Operands<S> make(const Shape3& s, std::uint64_t seed) {
  const Index a_rows = s.ta ? s.k : s.m, a_cols = s.ta ? s.m : s.k;
  const Index b_rows = s.tb ? s.n : s.k, b_cols = s.tb ? s.k : s.n;
  return {mlp_test::random_matrix<S>(a_rows + 3, a_cols, seed), mlp_test::random_matrix<S>(b_rows + 3, b_cols, seed + 1),
          a_rows + 3, b_rows + 3};
}

template <class S>
mlp::Matrix<S> product(const Shape3& s, const Operands<S>& o, int threads, bool accumulate = false,
                       GemmKernel kernel = GemmKernel::Auto) {
  const mlp::Matrix<S> start = mlp_test::random_matrix<S>(s.m, s.n, 99);
  mlp::Matrix<S> c = start;
  mlp::detail::GemmBuffers<S> buffers;
  const mlp::ThreadLimit limit(threads);
  mlp::detail::gemm<S>(s.m, s.n, s.k, o.a.data(), o.lda, s.ta, o.b.data(), o.ldb, s.tb, c.data(), s.m, accumulate,
                       buffers, kernel);
  return c;
}

// The own kernel's definition: per element, acc = C (accumulate), its row's value of `rows`, or +0,
// then acc = fma(a, b, acc) over k in order.
mlp::Matrix<float> fma_chain(const Shape3& s, const Operands<float>& o, bool accumulate, const float* rows = nullptr) {
  mlp::Matrix<float> c = mlp_test::random_matrix<float>(s.m, s.n, 99);
  for (Index j = 0; j < s.n; ++j) {
    for (Index i = 0; i < s.m; ++i) {
      float acc = accumulate ? c(i, j) : rows != nullptr ? rows[i] : 0.0f;
      for (Index p = 0; p < s.k; ++p) acc = std::fma(s.ta ? o.a(p, i) : o.a(i, p), s.tb ? o.b(j, p) : o.b(p, j), acc);
      c(i, j) = acc;
    }
  }
  return c;
}

using mlp_test::ThreadCount;

TEST_CASE("gemm: C = op(A) op(B) and C += op(A) op(B) match a long double triple loop (float and double)") {
  std::uint64_t seed = 1;
  for (const Shape3& s : shapes()) {
    if (s.m * s.n * s.k > 4'000'000) continue;  // the reference loop is slow
    INFO(describe(s));
    const Operands<double> o = make<double>(s, seed += 2);
    Operands<float> of{o.a.cast<float>(), o.b.cast<float>(), o.lda, o.ldb};
    const mlp::Matrix<double> c0 = mlp_test::random_matrix<double>(s.m, s.n, 99);
    const mlp::Matrix<double> set = product(s, o, 1), added = product(s, o, 1, true);
    const mlp::Matrix<float> set_f = product(s, of, 1), set_eigen = product(s, of, 1, false, GemmKernel::Eigen);
    double worst = 0.0, worst_f = 0.0;
    for (Index j = 0; j < s.n; ++j) {
      for (Index i = 0; i < s.m; ++i) {
        long double sum = 0.0L, sum_f = 0.0L, magnitude = 0.0L;
        for (Index p = 0; p < s.k; ++p) {
          const double a = s.ta ? o.a(p, i) : o.a(i, p), b = s.tb ? o.b(j, p) : o.b(p, j);
          const float af = s.ta ? of.a(p, i) : of.a(i, p), bf = s.tb ? of.b(j, p) : of.b(p, j);
          const long double ab = static_cast<long double>(a) * static_cast<long double>(b);
          sum += ab;
          sum_f += static_cast<long double>(af) * static_cast<long double>(bf);
          magnitude += std::abs(ab);
        }
        const double scale = static_cast<double>(magnitude) + 1e-30;
        worst = std::max(worst, std::abs(set(i, j) - static_cast<double>(sum)) / scale);
        worst = std::max(worst, std::abs(added(i, j) - c0(i, j) - static_cast<double>(sum)) / (scale + std::abs(c0(i, j))));
        worst_f = std::max(worst_f, std::abs(static_cast<double>(set_f(i, j)) - static_cast<double>(sum_f)) / scale);
        worst_f = std::max(worst_f, std::abs(static_cast<double>(set_eigen(i, j)) - static_cast<double>(sum_f)) / scale);
      }
    }
    CHECK(worst < 1e-14);   // a few double roundings relative to sum |a b|
    CHECK(worst_f < 1e-5);  // a few float roundings relative to sum |a b|
  }
}

TEST_CASE("gemm: the same bits at 1, 2 and 3 threads; the own kernel gives a chain of std::fma, Eigen's kernel Eigen's own product") {
  std::uint64_t seed = 100;
  for (const Shape3& s : shapes()) {
    INFO(describe(s));
    const Operands<float> o = make<float>(s, seed += 2);
    const ThreadCount eigen(3);  // thread_count() is then 3 unless limited
    for (const GemmKernel kernel : {GemmKernel::Auto, GemmKernel::Eigen}) {
      INFO((kernel == GemmKernel::Auto ? "Auto" : "Eigen"));
      const mlp::Matrix<float> one = product(s, o, 1, false, kernel);
      CHECK(mlp_test::same_bits(one, product(s, o, 2, false, kernel)));
      CHECK(mlp_test::same_bits(one, product(s, o, 3, false, kernel)));
      CHECK(mlp_test::same_bits(product(s, o, 1, true, kernel), product(s, o, 2, true, kernel)));
    }
    const Operands<double> d = make<double>(s, seed);  // the double products of the gradient checks
    CHECK(mlp_test::same_bits(product(s, d, 1), product(s, d, 2)));

    if (mlp::detail::gemm_f32_kernel_available()) {
      CHECK(mlp_test::same_bits(product(s, o, 2), fma_chain(s, o, false)));
      CHECK(mlp_test::same_bits(product(s, o, 2, true), fma_chain(s, o, true)));
    }

    // What Linear and Conv2d computed with Eigen's product, on one thread.
    const ThreadCount single(1);
    const Eigen::Map<const mlp::Matrix<float>, 0, Eigen::OuterStride<>> a(
        o.a.data(), s.ta ? s.k : s.m, s.ta ? s.m : s.k, Eigen::OuterStride<>(o.lda));
    const Eigen::Map<const mlp::Matrix<float>, 0, Eigen::OuterStride<>> b(
        o.b.data(), s.tb ? s.n : s.k, s.tb ? s.k : s.n, Eigen::OuterStride<>(o.ldb));
    mlp::Matrix<float> eigen_product(s.m, s.n);
    if (s.ta && s.tb) eigen_product.noalias() = a.transpose() * b.transpose();
    if (s.ta && !s.tb) eigen_product.noalias() = a.transpose() * b;
    if (!s.ta && s.tb) eigen_product.noalias() = a * b.transpose();
    if (!s.ta && !s.tb) eigen_product.noalias() = a * b;
    // Eigen computes tiny products (m + n + k < 20) coefficient by coefficient, and a single
    // column or row as a matrix-vector product: other sums, so only the GEMM-sized ones compare.
    if (s.m + s.n + s.k >= 20 && s.n > 1 && s.m > 1) {
      CHECK(mlp_test::same_bits(product(s, o, 1, false, GemmKernel::Eigen), eigen_product));
    }
  }
}

// A bias for m rows: random, with -0, an infinity, a NaN and a subnormal among them.
template <class S>
mlp::Matrix<S> some_rows(Index m, std::uint64_t seed) {
  mlp::Matrix<S> r = mlp_test::random_matrix<S>(m, 1, seed);
  const S special[] = {S(-0.0), std::numeric_limits<S>::infinity(), std::numeric_limits<S>::quiet_NaN(),
                       std::numeric_limits<S>::denorm_min()};
  for (Index i = 0; i < 4 && 5 * i < m; ++i) r(5 * i) = special[i];
  return r;
}

// C = r 1^T + op(A) op(B) (r: rows, or +0 without), finished, with gemm_finished on `threads` threads.
template <class S>
mlp::Matrix<S> finished(const Shape3& s, const Operands<S>& o, const S* rows, const mlp::detail::GemmFinish<S>& finish,
                        int threads, GemmKernel kernel = GemmKernel::Auto) {
  mlp::Matrix<S> c = mlp_test::random_matrix<S>(s.m, s.n, 99);  // overwritten
  mlp::detail::GemmBuffers<S> buffers;
  const mlp::ThreadLimit limit(threads);
  mlp::detail::gemm_finished<S>(s.m, s.n, s.k, o.a.data(), o.lda, s.ta, o.b.data(), o.ldb, s.tb, rows, c.data(), s.m,
                                finish, buffers, kernel);
  return c;
}

// What Linear and a ReLU computed before gemm_finished: C's columns filled with r (or zeros), the
// product accumulated onto them, then a pass of the ReLU (std::max(c, 0)) or of its mask.
template <class S>
mlp::Matrix<S> filled_accumulated_passed(const Shape3& s, const Operands<S>& o, const S* rows,
                                         const mlp::detail::GemmFinish<S>& finish, GemmKernel kernel = GemmKernel::Auto) {
  mlp::Matrix<S> c = mlp::Matrix<S>::Zero(s.m, s.n);
  if (rows != nullptr) c.colwise() = Eigen::Map<const mlp::Matrix<S>>(rows, s.m, 1).col(0);
  mlp::detail::GemmBuffers<S> buffers;
  const mlp::ThreadLimit limit(1);
  mlp::detail::gemm<S>(s.m, s.n, s.k, o.a.data(), o.lda, s.ta, o.b.data(), o.ldb, s.tb, c.data(), s.m, true, buffers,
                       kernel);
  using Kind = typename mlp::detail::GemmFinish<S>::Kind;
  for (Index j = 0; j < s.n; ++j) {
    for (Index i = 0; i < s.m; ++i) {
      if (finish.kind == Kind::Relu) c(i, j) = std::max(c(i, j), S(0));
      if (finish.kind == Kind::ReluMask) c(i, j) = finish.mask[i + j * finish.ld_mask] > S(0) ? c(i, j) : S(0);
    }
  }
  return c;
}

TEST_CASE("gemm_finished: a bias start and a ReLU or its mask give the bits of the fill, the product and the pass, at 1 to 3 threads") {
  using FinishF = mlp::detail::GemmFinish<float>;
  using FinishD = mlp::detail::GemmFinish<double>;
  std::uint64_t seed = 500;
  const ThreadCount eigen(3);
  // The shapes up to 4 million multiply-adds (the sanitizer builds run this test too), among them
  // blocks of rows and of k (700 x 2 x 2000) and products split between threads both ways.
  std::vector<Shape3> list{{40, 300, 150, false, true}, {300, 40, 150, true, false}};
  for (const Shape3& s : shapes())
    if (s.m * s.n * s.k <= 4'000'000) list.push_back(s);
  for (const Shape3& s : list) {
    INFO(describe(s));
    const Operands<float> o = make<float>(s, seed += 3);
    const mlp::Matrix<float> r = some_rows<float>(s.m, seed + 2);
    // The mask: a ReLU's output stored with 2 spare rows, half of it zeros, with -0 and a NaN.
    mlp::Matrix<float> mask = mlp_test::random_matrix<float>(s.m + 2, s.n, seed + 4).cwiseMax(0.0f);
    mask(0, 0) = -0.0f;
    mask(s.m - 1, s.n - 1) = std::numeric_limits<float>::quiet_NaN();
    const mlp::Matrix<double> maskd = mask.cast<double>();
    const FinishF finishes[] = {FinishF{}, FinishF::relu(), FinishF::relu_mask(mask.data(), s.m + 2)};
    for (const FinishF& finish : finishes) {
      INFO("finish " << static_cast<int>(finish.kind));
      for (const float* rows : {r.data(), static_cast<const float*>(nullptr)}) {
        INFO((rows != nullptr ? "rows" : "no rows"));
        for (const GemmKernel kernel : {GemmKernel::Auto, GemmKernel::Eigen}) {
          INFO((kernel == GemmKernel::Auto ? "Auto" : "Eigen"));
          const mlp::Matrix<float> expected = filled_accumulated_passed(s, o, rows, finish, kernel);
          for (const int threads : {1, 3})  // (3 threads: uneven parts)
            CHECK(mlp_test::same_bits(finished(s, o, rows, finish, threads, kernel), expected));
        }
      }
    }
    if (mlp::detail::gemm_f32_kernel_available()) {
      CHECK(mlp_test::same_bits(finished(s, o, r.data(), FinishF{}, 2), fma_chain(s, o, false, r.data())));
    }
    const Operands<double> d = make<double>(s, seed);
    const mlp::Matrix<double> rd = some_rows<double>(s.m, seed + 2);
    for (const FinishD& finish : {FinishD{}, FinishD::relu(), FinishD::relu_mask(maskd.data(), s.m + 2)}) {
      CHECK(mlp_test::same_bits(finished(s, d, rd.data(), finish, 2), filled_accumulated_passed(s, d, rd.data(), finish)));
    }
  }
}

TEST_CASE("gemm: an infinity or NaN in A or B reaches only its own row or column of C, and nothing past C's rows") {
  // The own kernel pads partial tiles with zeros (inf x 0 there would be NaN) and masks its stores
  // to C's rows; C here has guard rows below it (ldc > m) that must keep their values.
  for (const Shape3& s : {Shape3{37, 13, 50, false, false}, Shape3{50, 25, 40, true, true}, Shape3{17, 7, 33, false, true}}) {
    INFO(describe(s));
    Operands<float> o = make<float>(s, 5);
    const float inf = std::numeric_limits<float>::infinity(), guard = 12345.0f;
    (s.ta ? o.a(3, s.m - 1) : o.a(s.m - 1, 3)) = inf;  // the last row of op(A): its tile is padded below it
    (s.tb ? o.b(0, 5) : o.b(5, 0)) = std::numeric_limits<float>::quiet_NaN();  // the first column of op(B)
    for (const GemmKernel kernel : {GemmKernel::Auto, GemmKernel::Eigen}) {
      const Index ldc = s.m + 5;
      mlp::Matrix<float> c = mlp::Matrix<float>::Constant(ldc, s.n, guard);
      mlp::detail::GemmBuffers<float> buffers;
      mlp::detail::gemm<float>(s.m, s.n, s.k, o.a.data(), o.lda, s.ta, o.b.data(), o.ldb, s.tb, c.data(), ldc, false,
                               buffers, kernel);
      for (Index j = 0; j < s.n; ++j) {
        for (Index i = 0; i < ldc; ++i) {
          if (i >= s.m) {
            CHECK(c(i, j) == guard);
          } else if (j == 0) {
            CHECK(std::isnan(c(i, j)));
          } else if (i != s.m - 1) {
            CHECK(std::isfinite(c(i, j)));
          }
        }
      }
    }
    if (mlp::detail::gemm_f32_kernel_available()) CHECK(mlp_test::same_bits(product(s, o, 1), fma_chain(s, o, false)));
  }
}

#ifdef MLP_HAVE_AVX512F_CODE
TEST_CASE("gemm: the own kernel's blocks of k, rows and columns, with operands stored without spare rows") {
  if (!mlp::detail::gemm_f32_kernel_available()) {
    MESSAGE("this CPU has no AVX512F: the library's own fp32 kernel is not tested here");
    return;
  }
  CHECK(mlp::detail::cpu_has_avx512f());
  // Small blocks, so that a product of a few dozen rows and columns takes several blocks of k
  // (17 deep: not a multiple of the 16-value transposes), of rows (64) and of columns (24). Then
  // blocks of more than 8 panels (320 rows, 120 columns), which A as stored and B transposed pack
  // panel by panel (pack_f32_entries), with a last panel partly filled (300 rows; 115 columns).
  const mlp::detail::F32Blocking few{17, 64, 24}, wide{17, 320, 120};
  std::uint64_t seed = 300;
  for (const auto& blocks_and_shape : std::vector<std::pair<mlp::detail::F32Blocking, Shape3>>{
           {few, {100, 50, 70, false, false}}, {few, {65, 37, 35, true, false}}, {few, {33, 49, 18, false, true}},
           {few, {130, 25, 52, true, true}}, {few, {1, 1, 1, false, false}},
           // B's columns 512 floats apart: copied by columns before the tiles read them
           {few, {40, 30, 512, false, false}}, {few, {70, 13, 1024, true, false}},
           {wide, {600, 130, 20, false, true}}, {wide, {600, 115, 20, false, true}}, {wide, {620, 250, 33, false, false}},
           {wide, {600, 130, 20, true, true}}}) {
    // (not a structured binding: doctest's INFO captures s in a lambda, which C++17 does not allow)
    const mlp::detail::F32Blocking& small = blocks_and_shape.first;  // the blocks of this case
    const Shape3& s = blocks_and_shape.second;
    INFO(describe(s) << ", blocks of " << small.mc << " rows and " << small.nc << " columns");
    // lda and ldb equal to the stored rows: a read past an operand's last column leaves its allocation.
    const Index a_rows = s.ta ? s.k : s.m, b_rows = s.tb ? s.n : s.k;
    const Operands<float> o{mlp_test::random_matrix<float>(a_rows, s.ta ? s.m : s.k, seed),
                            mlp_test::random_matrix<float>(b_rows, s.tb ? s.k : s.n, seed + 1), a_rows, b_rows};
    seed += 2;
    const mlp::Matrix<float> r = some_rows<float>(s.m, seed);
    const mlp::Matrix<float> mask = mlp_test::random_matrix<float>(s.m, s.n, seed + 7);
    for (const int start : {0, 1, 2}) {  // +0, C, the rows
      for (const int kind : {0, 1, 2}) {  // no finish, a ReLU, a ReLU's mask
        const bool accumulate = start == 1;
        const float* rows = start == 2 ? r.data() : nullptr;
        using Finish = mlp::detail::GemmFinish<float>;
        const Finish finish = kind == 0 ? Finish{} : kind == 1 ? Finish::relu() : Finish::relu_mask(mask.data(), s.m);
        mlp::Matrix<float> c = mlp_test::random_matrix<float>(s.m, s.n, 99);
        std::vector<float> pa(static_cast<std::size_t>(small.a_floats(s.m, s.k))),
            pb(static_cast<std::size_t>(small.b_floats(s.n, s.k)));
        const mlp::detail::GemmProblem g{s.m, s.n, s.k, o.a.data(), o.lda, s.ta, o.b.data(), o.ldb, s.tb,
                                         c.data(), s.m, accumulate, rows, finish};
        // Two blocks of C, as two threads would compute them.
        const Index half = s.m / 2;
        mlp::detail::gemm_f32_block(g, 0, half, 0, s.n, pa.data(), pb.data(), small);
        mlp::detail::gemm_f32_block(g, half, s.m, 0, s.n, pa.data(), pb.data(), small);
        mlp::Matrix<float> expected = fma_chain(s, o, accumulate, rows);
        for (Index j = 0; j < s.n; ++j)
          for (Index i = 0; i < s.m; ++i) expected(i, j) = finish(expected(i, j), i, j);
        INFO("start " << start << ", finish " << kind);
        CHECK(mlp_test::same_bits(c, expected));
      }
    }
  }
}
#endif

TEST_CASE("gemm: trivial sizes, and no allocation once the buffers have grown") {
  mlp::detail::GemmBuffers<float> buffers;
  std::vector<float> c(6, 5.0f);
  const float one = 1.0f;
  mlp::detail::gemm<float>(2, 3, 0, &one, 2, false, &one, 1, false, c.data(), 2, true, buffers);
  CHECK(c == std::vector<float>(6, 5.0f));  // k = 0, accumulate: unchanged
  mlp::detail::gemm<float>(2, 3, 0, &one, 2, false, &one, 1, false, c.data(), 2, false, buffers);
  CHECK(c == std::vector<float>(6, 0.0f));  // k = 0: C = 0
  mlp::detail::gemm<float>(0, 3, 4, &one, 1, false, &one, 4, false, c.data(), 1, false, buffers);  // nothing to do
  const float rows[2] = {3.0f, -2.0f};
  mlp::detail::gemm_finished<float>(2, 3, 0, &one, 2, false, &one, 1, false, rows, c.data(), 2, {}, buffers);
  CHECK(c == std::vector<float>{3.0f, -2.0f, 3.0f, -2.0f, 3.0f, -2.0f});  // k = 0: C = r 1^T
  mlp::detail::gemm_finished<float>(2, 3, 0, &one, 2, false, &one, 1, false, rows, c.data(), 2,
                                    mlp::detail::GemmFinish<float>::relu(), buffers);
  CHECK(c == std::vector<float>{3.0f, 0.0f, 3.0f, 0.0f, 3.0f, 0.0f});  // and finished

  const Shape3 big{300, 130, 700, false, false};
  const Operands<float> o = make<float>(big, 8);
  mlp::Matrix<float> out(big.m, big.n);
  const ThreadCount eigen(2);
  // The first product runs at the full count (as the Trainer's first step does); later ones on
  // fewer threads, as the thread governor may choose, allocate nothing.
  mlp::detail::gemm<float>(big.m, big.n, big.k, o.a.data(), o.lda, false, o.b.data(), o.ldb, false, out.data(), big.m,
                           false, buffers);
  const mlp_test::AllocationProbe probe;
  for (const int threads : {1, 2, 1}) {
    const mlp::ThreadLimit limit(threads);
    mlp::detail::gemm<float>(big.m, big.n, big.k, o.a.data(), o.lda, false, o.b.data(), o.ldb, false, out.data(),
                             big.m, true, buffers);
  }
  CHECK(probe.count() == 0);

  // Sized beforehand (as Conv2d sizes its workers' buffers), the first product on one thread
  // allocates nothing either.
  mlp::detail::GemmBuffers<float> sized;
  mlp::detail::reserve_gemm(sized, big.m, big.n, big.k);
  const mlp::ThreadLimit single(1);
  const mlp_test::AllocationProbe first;
  mlp::detail::gemm<float>(big.m, big.n, big.k, o.a.data(), o.lda, false, o.b.data(), o.ldb, false, out.data(),
                           big.m, false, sized);
  CHECK(first.count() == 0);
}

TEST_CASE("threads: ThreadLimit caps thread_count() on its thread; a nested limit cannot lift the outer one") {
  const ThreadCount eigen(2);
  const int full = mlp::thread_count();
#ifdef _OPENMP
  CHECK(full == 2);
#else
  CHECK(full == 1);
#endif
  {
    const mlp::ThreadLimit one(1);
    CHECK(mlp::thread_count() == 1);
    {
      const mlp::ThreadLimit many(8);  // a cap, not a request: the outer limit of 1 holds
      CHECK(mlp::thread_count() == 1);
    }
    CHECK(mlp::thread_count() == 1);
  }
  {
    const mlp::ThreadLimit many(8);  // never above Eigen's count
    CHECK(mlp::thread_count() == full);
    {
      const mlp::ThreadLimit one(1);  // the lower inner limit holds, then the outer again
      CHECK(mlp::thread_count() == 1);
      {
        // The Trainer's step inside its own limit for the callbacks: replaced, and restored after.
        const mlp::ThreadLimit step(2, mlp::ThreadLimit::Replacing{});
        CHECK(mlp::thread_count() == full);
      }
      CHECK(mlp::thread_count() == 1);
    }
    CHECK(mlp::thread_count() == full);
  }
  CHECK(mlp::thread_count() == full);
  CHECK_THROWS_WITH_AS(mlp::ThreadLimit(0), "ThreadLimit needs a limit of at least 1 thread, but got 0",
                       mlp::InvalidArgument);
  CHECK(mlp::thread_count() == full);  // (a refused limit changes nothing)
}

}  // namespace gemm_test
