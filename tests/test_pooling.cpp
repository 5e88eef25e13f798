// MaxPool2d and AvgPool2d: forward and backward against PyTorch, ties and NaN, gradient checks
// over several shapes, configuration, and the messages for bad configurations and inputs.
#include "helpers.hpp"
#include "torch_reference.hpp"

#include <mlp/layers/pooling.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

using mlp::Index;
using mlp::Shape;
using mlp::Size2;
using mlp_test::MatrixD;
using mlp_test::check_values;
using mlp_test::filled;
using mlp_test::ref_dy;
using mlp_test::ref_x;

namespace {

// Distinct values (a shuffled ramp), so that no window has a tie within reach of the finite
// differences: a tie would make max pooling non-differentiable there.
MatrixD distinct(Index rows, Index cols, std::uint64_t seed) {
  MatrixD m(rows, cols);
  mlp::Rng rng(seed);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<double>(i) / static_cast<double>(m.size()) - 0.5;
  for (Index i = m.size() - 1; i > 0; --i) {
    std::swap(m.data()[i], m.data()[static_cast<Index>(rng.below(static_cast<std::uint64_t>(i + 1)))]);
  }
  return m;
}

struct PoolCase {
  Shape in;
  Size2 kernel;
  std::optional<Size2> stride;
  Size2 padding;
};

const std::vector<PoolCase> kPoolCases = {
    {{1, 4, 4}, {2}, std::nullopt, {0}},   {{2, 5, 5}, {3}, Size2(2), {1}},     {{3, 7, 6}, {3, 2}, Size2(2, 1), {1, 1}},
    {{2, 6, 5}, {2, 3}, Size2(1, 2), {0, 1}}, {{1, 5, 7}, {5, 7}, std::nullopt, {0}}, {{2, 9, 9}, {3}, Size2(3), {0}},
    {{2, 4, 4}, {2}, Size2(1), {1}},
};

}  // namespace

TEST_CASE("MaxPool2d matches PyTorch: rectangular overlapping windows, stride 2 x 1, padding") {
  // PyTorch 1.13 in float64:
  //   pool = nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1)); x = ref_x(i).reshape(2, 2, 5, 5)
  //   y = pool(x); y.backward(ref_dy(k).reshape(y.shape)); printed y and x.grad (format ".17g").
  mlp::MaxPool2d<double> pool({3, 2}, Size2{2, 1}, {1, 1});
  pool.bind(Shape{2, 5, 5});
  CHECK(pool.output_shape() == Shape{2, 3, 6});
  check_values(pool.forward(filled(50, 2, ref_x), mlp::Mode::Train), {
    0.67999999999999994, 0.67999999999999994, 0.47999999999999998, 0.87999999999999989,
    0.87999999999999989, -0.060000000000000053, 0.67999999999999994, 0.73999999999999999,
    0.73999999999999999, 0.87999999999999989, 0.93999999999999995, 0.93999999999999995,
    0, 0.73999999999999999, 0.73999999999999999, 0.19999999999999996,
    0.93999999999999995, 0.93999999999999995, 1, 1,
    0.80000000000000004, 0.80000000000000004, 0.26000000000000001, 0.26000000000000001,
    1, 1, 0.45999999999999996, 0.8600000000000001,
    0.8600000000000001, -0.07999999999999996, 0.32000000000000006, 0.71999999999999997,
    0.71999999999999997, 0.52000000000000002, 0.91999999999999993, 0.91999999999999993,
    -0.35999999999999999, 0.37999999999999989, 0.78000000000000003, 0.78000000000000003,
    0.58000000000000007, 0.58000000000000007, 0.97999999999999998, 0.97999999999999998,
    0.78000000000000003, 0.84000000000000008, 0.84000000000000008, 0.23999999999999999,
    0.6399999999999999, 0.6399999999999999, 0.10000000000000009, 0.84000000000000008,
    0.84000000000000008, -0.43999999999999995, -0.040000000000000036, 0.69999999999999996,
    0.69999999999999996, 0.15999999999999992, 0.89999999999999991, 0.89999999999999991,
    0.95999999999999996, 0.95999999999999996, 0.76000000000000001, 0.76000000000000001,
    0.56000000000000005, 0.56000000000000005, 0.95999999999999996, 0.95999999999999996,
    0.41999999999999993, 0.82000000000000006, 0.82000000000000006, -0.12});
  check_values(pool.backward(filled(36, 2, ref_dy)), {
    0, 0, 0.30337078651685401, 0,
    0.2584269662921348, -0.4382022471910112, 0, 0,
    1.4269662921348312, 0, 0, 0,
    0, 0, 0, 0.8202247191011236,
    -0.62921348314606718, 0, 0.77528089887640439, -0.80898876404494391,
    0, 0, 0, 0,
    0, 0, 0, 0.7191011235955056,
    0, -0.67415730337078661, 0.044943820224719211, 0,
    -0.056179775280898903, 0, -0.101123595505618, 0,
    0, 0, -0.15730337078651702, 0,
    0.550561797752809, 0, 0, 0.50561797752808979,
    0, 0, -0.9438202247191011, 0,
    0, -1.0337078651685394, 0.4606741573033708, -0.88764044943820219,
    0, 0, -1.2134831460674158, 0,
    0, -0.14606741573033721, 0, -0.3707865168539326,
    -0.60674157303370779, 0, 0, 0,
    0, 1.2134831460674158, 0, -0.4157303370786517,
    2.4269662921348312, -0.4606741573033708, 0, 0,
    0, 0, 0, 0.1910112359550562,
    0.3370786516853933, 0, 0.14606741573033699, 0.24719101123595499,
    0, 0, 0, 0,
    0.067415730337078594, 0, 0, -0.53932584269662931,
    0, 0, 1.5280898876404496, 0,
    -0.6853932584269663, 0, -0.7303370786516854, 0,
    0, 0, 0.5842696629213483, 0});
}

TEST_CASE("MaxPool2d routes the gradient of a tie to the first maximum in row-major order, as PyTorch") {
  // PyTorch: pool = nn.MaxPool2d(2); x = tensor([i // 3 for i in range(16)]).reshape(1, 1, 4, 4);
  //          y = pool(x); y.backward(ref_dy(k).reshape(y.shape)).
  mlp::MaxPool2d<double> pool(2);
  pool.bind(Shape{1, 4, 4});
  MatrixD x(16, 1);
  for (Index i = 0; i < 16; ++i) x(i, 0) = static_cast<double>(i / 3);
  check_values(pool.forward(x, mlp::Mode::Train), {1, 2, 4, 5});
  check_values(pool.backward(filled(4, 1, ref_dy)), {
    0, 0, 0, 0,
    -1, 0, -0.348314606741573, 0,
    0, 0, 0, 0,
    0.30337078651685401, 0, 0, 0.95505617977528079});
}

TEST_CASE("MaxPool2d propagates NaN (the last one wins, as in PyTorch) and takes -infinity for padding") {
  mlp::MaxPool2d<double> pool(3, Size2{1}, 1);
  pool.bind(Shape{1, 2, 2});
  MatrixD x(4, 2);
  x << -7, -1, -5, std::numeric_limits<double>::quiet_NaN(), -6, -3, -8, -4;
  const MatrixD y = pool.forward(x, mlp::Mode::Train);
  CHECK(y.col(0).maxCoeff() == -5.0);  // every window of a 2 x 2 image padded by 1 holds all 4 pixels
  CHECK(y.col(0).minCoeff() == -5.0);
  CHECK(y.col(1).array().isNaN().all());
  const MatrixD dx = pool.backward(MatrixD::Ones(4, 2));
  CHECK(dx(1, 0) == 4.0);
  CHECK(dx(1, 1) == 4.0);
  // The 2 x 2 pool (its own code): the last NaN of a window wins, then the first maximum. PyTorch:
  // F.max_pool2d(x.reshape(1, 1, 2, 6), 2, return_indices=True) gives indices [6, 3, 4].
  const double nan = std::numeric_limits<double>::quiet_NaN();
  mlp::MaxPool2d<double> pairs(2);
  pairs.bind(Shape{1, 2, 6});
  MatrixD image(12, 1);
  image << 1, nan, 3, 4, 5, 5, nan, 0, 2, 2, 5, 1;
  const MatrixD pooled = pairs.forward(image, mlp::Mode::Train);
  CHECK(std::isnan(pooled(0, 0)));
  CHECK(pooled(1, 0) == 4.0);
  CHECK(pooled(2, 0) == 5.0);
  MatrixD expected = MatrixD::Zero(12, 1);
  expected(6, 0) = 1.0;  // the NaN at row 1, column 0 comes after the one at row 0, column 1
  expected(3, 0) = 1.0;
  expected(4, 0) = 1.0;  // 5 at row 0, column 4 is the first of three
  CHECK(pairs.backward(MatrixD::Ones(3, 1)) == expected);
}

TEST_CASE("AvgPool2d matches PyTorch, counting padded zeros (count_include_pad=True)") {
  // PyTorch: pool = nn.AvgPool2d(3, stride=2, padding=1); x = ref_x(i).reshape(1, 2, 5, 5); as above.
  mlp::AvgPool2d<double> pool(3, Size2{2}, 1);
  pool.bind(Shape{2, 5, 5});
  check_values(pool.forward(filled(50, 1, ref_x), mlp::Mode::Train), {
    -0.13111111111111112, -0.017777777777777819, -0.042222222222222244, 0.024444444444444453,
    0.024444444444444428, 0.15777777777777777, 0.088888888888888878, -0.024444444444444467,
    0.17777777777777778, 0.01111111111111112, -0.028888888888888891, -0.12444444444444445,
    0.013333333333333345, -0.10444444444444444, -0.077777777777777779, 0.0066666666666666723,
    -0.035555555555555562, 0.095555555555555546});
  check_values(pool.backward(filled(18, 1, ref_dy)), {
    -0.1111111111111111, -0.14981273408239698, -0.03870162297128589, -0.0049937578027465582,
    0.033707865168539332, -0.004993757802746579, -0.08739076154806491, -0.082397003745318345,
    -0.019975031210986257, 0.062421972534332085, 0.10611735330836453, 0.062421972534332071,
    -0.043695380774032455, -0.014981273408239699, 0.028714107365792756, 0.2072409488139825,
    0.11485642946317103, -0.092384519350811475, -0.039950062421972514, 0.052434456928838954,
    0.10112359550561797, 0.052434456928838954, -0.04868913857677902, -0.024968789013732819,
    0.023720349563046202, 0.096129837702871396, 0.04244694132334581, -0.053682896379525585,
    -0.034956304619225963, 0.018726591760299623, 0.18726591760299624, 0.074906367041198491,
    -0.11235955056179775, -0.079900124843945056, 0.032459425717852694, 0.091136079900124844,
    0.032459425717852687, -0.058676654182272157, -0.044943820224719086, 0.013732833957553068,
    0.17727840199750311, 0.054931335830212216, -0.12234706616729088, -0.09987515605493133,
    0.022471910112359557, 0.086142322097378266, 0.022471910112359536, -0.063670411985018729,
    -0.054931335830212244, 0.0087390761548064889});
}

TEST_CASE("MaxPool2d and AvgPool2d gradients pass the finite-difference check over several shapes") {
  for (const PoolCase& c : kPoolCases) {
    mlp::MaxPool2d<double> max_pool(c.kernel, c.stride, c.padding);
    max_pool.bind(c.in);
    INFO(max_pool.describe() << " on " << c.in.str());
    const auto max_report = mlp_test::check_layer(max_pool, distinct(c.in.size(), 3, 11));
    INFO(max_report.describe());
    CHECK(max_report.max_rel_error < 1e-6);
    mlp::AvgPool2d<double> avg_pool(c.kernel, c.stride, c.padding);
    avg_pool.bind(c.in);
    const auto avg_report = mlp_test::check_layer(avg_pool, mlp_test::random_matrix(c.in.size(), 3, 12));
    INFO(avg_report.describe());
    CHECK(avg_report.max_rel_error < 1e-6);
    CHECK(avg_report.checked == c.in.size() * 3);
  }
}

TEST_CASE("MaxPool2d forward equals a direct loop over several shapes") {
  for (const PoolCase& c : kPoolCases) {
    mlp::MaxPool2d<double> pool(c.kernel, c.stride, c.padding);
    pool.bind(c.in);
    INFO(pool.describe() << " on " << c.in.str());
    const MatrixD x = mlp_test::random_matrix(c.in.size(), 4, 21);
    const MatrixD& y = pool.forward(x, mlp::Mode::Eval);
    const Shape out = pool.output_shape();
    const Size2 st = pool.stride(), pd = pool.padding();
    double worst = 0.0;
    for (Index s = 0; s < 4; ++s)
      for (Index ch = 0; ch < out.channels; ++ch)
        for (Index oy = 0; oy < out.height; ++oy)
          for (Index ox = 0; ox < out.width; ++ox) {
            double best = -std::numeric_limits<double>::infinity();
            for (Index ky = 0; ky < c.kernel.h; ++ky)
              for (Index kx = 0; kx < c.kernel.w; ++kx) {
                const Index iy = oy * st.h + ky - pd.h, ix = ox * st.w + kx - pd.w;
                if (iy >= 0 && iy < c.in.height && ix >= 0 && ix < c.in.width) {
                  best = std::max(best, x(ch * c.in.pixels() + iy * c.in.width + ix, s));
                }
              }
            worst = std::max(worst, std::abs(best - y(ch * out.pixels() + oy * out.width + ox, s)));
          }
    CHECK(worst == 0.0);
  }
}

TEST_CASE("The 2 x 2 max pool of stride 2 picks PyTorch's winner at every row width, with ties and NaN") {
  // Its pass down runs short rows as padded runs of 8 or 16 values that spill into the next rows'
  // outputs (detail/max_pool_kernels.hpp): output widths 1 to 8, 9 to 16 and wider take different
  // code, and a spill that overwrote a finished row, or a tail row left out, would show here.
  // Values from {0, 1, 2, NaN} make ties and NaN frequent; the reference scans each window in
  // row-major order and takes a candidate that is larger or NaN (PyTorch's rule).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  mlp::Rng rng(5);
  for (const Index width : {2, 4, 14, 16, 18, 28, 32, 34, 40}) {
    for (const Index height : {2, 6}) {
      const Shape in{3, height, width};
      mlp::MaxPool2d<float> pool(2);
      pool.bind(in);
      INFO("input " << in.str());
      const Index batch = 3;
      mlp::Matrix<float> x(in.size(), batch);
      for (Index i = 0; i < x.size(); ++i) {
        const auto draw = rng.below(9);
        x.data()[i] = draw == 8 ? nan : static_cast<float>(draw % 3);
      }
      const mlp::Matrix<float> y = pool.forward(x, mlp::Mode::Train);
      // dL/dy with -0 and NaN among the values: backward writes each window once (0 + dy at the
      // maximum, which turns -0 into +0, as the scatter into zeros it replaced did).
      mlp::Matrix<float> dy(y.rows(), batch);
      for (Index i = 0; i < dy.size(); ++i) {
        const Index kind = i % 7;
        dy.data()[i] = kind == 3 ? -0.0f : kind == 5 ? nan : static_cast<float>(kind % 2 == 0 ? i + 1 : -i);
      }
      const mlp::Matrix<float> dx = pool.backward(dy);
      const Shape out = pool.output_shape();
      Index wrong = 0;
      mlp::Matrix<float> expected_dx = mlp::Matrix<float>::Zero(in.size(), batch);
      for (Index s = 0; s < batch; ++s)
        for (Index ch = 0; ch < in.channels; ++ch)
          for (Index oy = 0; oy < out.height; ++oy)
            for (Index ox = 0; ox < out.width; ++ox) {
              Index at = -1;
              float best = -std::numeric_limits<float>::infinity();
              for (Index ky = 0; ky < 2; ++ky)
                for (Index kx = 0; kx < 2; ++kx) {
                  const Index i = ch * in.pixels() + (2 * oy + ky) * width + 2 * ox + kx;
                  if (at < 0 || x(i, s) > best || std::isnan(x(i, s))) {
                    best = x(i, s);
                    at = i;
                  }
                }
              const Index o = ch * out.pixels() + oy * out.width + ox;
              const bool same = std::isnan(best) ? std::isnan(y(o, s)) : y(o, s) == best;
              wrong += same ? 0 : 1;
              expected_dx(at, s) = 0.0f + dy(o, s);
            }
      CHECK(wrong == 0);
      CHECK(mlp_test::same_bits(dx, expected_dx));
    }
  }
}

TEST_CASE("The 2 x 2 max pool's one-pass AVX-512 loop gives the two passes' y and argmax bit for bit") {
  // MaxPool2d<float> takes detail::max_pool_2x2_avx512 on a CPU with AVX512F and the two passes of
  // detail::max_pool_2x2 elsewhere (and for double). Rows of 1 to 33 outputs cover one and several
  // vectors and every tail; values from {+0, -0, 1, -1, +-inf, NaN with three payloads} make ties
  // of equal and of differently signed zeros, and NaN everywhere in a window. Guard entries after
  // each sample's outputs catch a store past the row's mask; a load past the input (whose extra
  // lanes would be dropped) is caught by the AddressSanitizer run of this test (the asan preset).
#ifdef MLP_HAVE_AVX512F_CODE
  if (!mlp::detail::cpu_has_avx512f()) {
    MESSAGE("this CPU has no AVX512F: MaxPool2d runs the two passes only");
    return;
  }
  const float inf = std::numeric_limits<float>::infinity();
  const float values[] = {0.0f, -0.0f, 1.0f, -1.0f, inf, -inf, std::nanf("1"), -std::nanf("2"), std::nanf("7")};
  mlp::Rng rng(11);
  constexpr Index kGuard = 40;
  Index cases = 0;
  for (const Index width : {2, 4, 6, 14, 16, 28, 30, 32, 34, 62, 64, 66}) {
    for (const Index height : {2, 4}) {
      for (const Index planes : {1, 3}) {
        for (const std::int32_t base : {0, 4096}) {  // the planes a BatchNorm2d hands on start inside a sample
          INFO("planes " << planes << ", " << height << " x " << width << ", base " << base);
          const Index in = planes * height * width, out = in / 4;
          std::vector<float> x(static_cast<std::size_t>(in));
          for (float& v : x) v = values[rng.below(9)];
          std::vector<float> h(static_cast<std::size_t>(in / 2)), y2(static_cast<std::size_t>(out + kGuard), 5.0f);
          std::vector<std::int32_t> hi(h.size()), arg2(y2.size(), -7);
          std::vector<float> y1 = y2;
          std::vector<std::int32_t> arg1 = arg2;
          mlp::detail::max_pool_2x2(x.data(), planes, height, width, h.data(), hi.data(), y2.data(), arg2.data(),
                                    base);
          mlp::detail::max_pool_2x2_avx512(x.data(), planes, height, width, y1.data(), arg1.data(), base);
          CHECK(std::memcmp(y1.data(), y2.data(), sizeof(float) * y1.size()) == 0);
          CHECK(arg1 == arg2);
          CHECK(arg1.front() >= base);
          CHECK(y1[static_cast<std::size_t>(out)] == 5.0f);  // the guard (the two passes leave it too)
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 96);
#else
  MESSAGE("built without AVX-512 code: MaxPool2d runs the two passes only");
#endif
}

TEST_CASE("The 2 x 2 max pool's AVX-512 backward gives the portable loop's dx bit for bit, masked or not") {
  // MaxPool2d<float>'s backward takes detail::max_pool_2x2_backward_avx512 on a CPU with AVX512F.
  // Rows of 1 to 33 outputs (one window row in one group of 16 or in several), gradients and
  // outputs with -0, NaN and infinities; guard entries after dx catch a store past the last window
  // row.
#ifdef MLP_HAVE_AVX512F_CODE
  if (!mlp::detail::cpu_has_avx512f()) {
    MESSAGE("this CPU has no AVX512F: MaxPool2d runs the portable backward only");
    return;
  }
  const float inf = std::numeric_limits<float>::infinity();
  const float values[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.5f, inf, -inf, std::nanf("1"), -3.0f};
  mlp::Rng rng(12);
  constexpr Index kGuard = 40;
  Index cases = 0;
  for (const Index width : {2, 4, 6, 14, 16, 28, 30, 32, 34, 62, 64, 66}) {
    for (const Index height : {2, 4}) {
      for (const Index planes : {1, 3}) {
        INFO("planes " << planes << ", " << height << " x " << width);
        const Index in = planes * height * width, out = in / 4;
        std::vector<float> x(static_cast<std::size_t>(in)), g(static_cast<std::size_t>(out));
        for (float& v : x) v = values[rng.below(9)];
        for (float& v : g) v = values[rng.below(9)];
        std::vector<float> h(static_cast<std::size_t>(in / 2)), y(static_cast<std::size_t>(out));
        std::vector<std::int32_t> hi(h.size()), arg(y.size());
        mlp::detail::max_pool_2x2(x.data(), planes, height, width, h.data(), hi.data(), y.data(), arg.data());
        for (const bool masked : {false, true}) {
          INFO("masked " << masked);
          std::vector<float> dx1(static_cast<std::size_t>(in + kGuard), 5.0f), dx2 = dx1;
          if (masked) {
            mlp::detail::max_pool_2x2_backward<true>(g.data(), y.data(), arg.data(), planes, height, width,
                                                     dx2.data());
            mlp::detail::max_pool_2x2_backward_avx512<true>(g.data(), y.data(), arg.data(), planes, height, width,
                                                            dx1.data());
          } else {
            mlp::detail::max_pool_2x2_backward<false>(g.data(), y.data(), arg.data(), planes, height, width,
                                                      dx2.data());
            mlp::detail::max_pool_2x2_backward_avx512<false>(g.data(), y.data(), arg.data(), planes, height, width,
                                                             dx1.data());
          }
          CHECK(std::memcmp(dx1.data(), dx2.data(), sizeof(float) * dx1.size()) == 0);
          CHECK(dx1[static_cast<std::size_t>(in)] == 5.0f);  // the guard
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 96);
#else
  MESSAGE("built without AVX-512 code: MaxPool2d runs the portable backward only");
#endif
}

TEST_CASE("Pooling layers default the stride to the kernel, describe themselves and rebuild from their configuration") {
  mlp::MaxPool2d<float> pool(2);
  CHECK(pool.stride() == Size2(2));
  CHECK(pool.describe() == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))");
  pool.bind(Shape{32, 28, 28});
  CHECK(pool.output_shape() == Shape{32, 14, 14});
  CHECK(pool.parameters().empty());
  mlp::AvgPool2d<float> avg({3, 2}, Size2{1, 2}, {1, 0});
  CHECK(avg.describe() == "AvgPool2d(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))");
  const mlp::LayerConfig config = avg.config();
  CHECK(config.text("kernel_h") == "3");
  CHECK(config.text("kernel_w") == "2");
  CHECK(config.text("stride_h") == "1");
  CHECK(config.text("stride_w") == "2");
  CHECK(config.text("padding_h") == "1");
  CHECK(config.text("padding_w") == "0");
  CHECK(mlp::AvgPool2d<float>::from_config(config)->describe() == avg.describe());
  CHECK(mlp::MaxPool2d<float>::from_config(pool.config())->describe() == pool.describe());
  CHECK(mlp::MaxPool2d<float>::state_shapes(config).empty());
}

TEST_CASE("Pooling layers reject bad configurations and inputs, naming the layer and the shapes") {
  CHECK_THROWS_WITH_AS(mlp::MaxPool2d<float>(2, Size2{0}), "MaxPool2d stride has to be positive, but got (0, 0)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::AvgPool2d<float>(0), "AvgPool2d kernel_size has to be positive, but got (0, 0)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::MaxPool2d<float>(3, std::nullopt, 2),
                       "MaxPool2d padding has to be at most half the kernel size, but got padding=(2, 2) for "
                       "kernel_size=(3, 3)",
                       mlp::InvalidArgument);
  mlp::MaxPool2d<float> pool(3);
  CHECK_THROWS_WITH_AS(pool.bind(Shape{4, 2, 7}),
                       "MaxPool2d(kernel_size=(3, 3), stride=(3, 3)) cannot take an input of 4 x 2 x 7: its 3 x 3 "
                       "kernel is larger than the padded input of 2 x 7 (padding 0 x 0)",
                       mlp::InvalidArgument);
  mlp::AvgPool2d<float> avg(2);
  avg.bind(Shape{3, 4, 4});
  CHECK_THROWS_WITH_AS(avg.forward(mlp::Matrix<float>::Zero(47, 2), mlp::Mode::Train),
                       "AvgPool2d(kernel_size=(2, 2), stride=(2, 2)) expects 3 x 4 x 4 per sample (48 rows), but got "
                       "a batch of 47 x 2",
                       mlp::InvalidArgument);
}
