// im2col and col2im: the AVX-512 loops for contiguous taps (detail/im2col_avx512.hpp) give the
// portable loops' bits, on "same" windows of every awkward kind: images narrower than a vector,
// taps that lie wholly in the padding, rows of padding above and below, several samples at an
// offset in the batch, and a leading dimension with room to spare (which neither may touch). And
// Conv2d's products that read the images instead of cols (detail/conv_lowered_avx512.hpp) give the
// bits of im2col and the products.
#include <doctest/doctest.h>

#include <mlp/detail/conv_lowered_avx512.hpp>
#include <mlp/detail/gemm.hpp>
#include <mlp/detail/im2col.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using mlp::Index;
using mlp::Shape;
using mlp::Size2;

namespace {

struct LoweringCase {
  Index channels, height, width;
  Size2 kernel, padding;  // kernel.w = 2 padding.w + 1: the output is as wide as the input
  Index first, count;     // samples [first, first + count) of a batch of first + count + 1
};

// Values with the sums' corner cases sprinkled in: -0, infinities, a NaN.
std::vector<float> lowering_values(Index size, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(size));
  for (auto& x : v) x = uniform(gen);
  for (std::size_t i = 0; i < v.size(); i += 37) v[i] = -0.0f;
  if (v.size() > 100) {
    v[50] = std::numeric_limits<float>::infinity();
    v[75] = -std::numeric_limits<float>::infinity();
    v[99] = std::numeric_limits<float>::quiet_NaN();
  }
  return v;
}

// Equal bits, except that any two NaNs are equal (which NaN a sum of several returns depends on
// the order of an addition's operands, which the compiler may swap).
bool same_floats(const float* a, const float* b, Index size, Index& where) {
  for (where = 0; where < size; ++where) {
    if (std::isnan(a[where]) && std::isnan(b[where])) continue;
    if (std::memcmp(a + where, b + where, sizeof(float)) != 0) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("im2col and col2im: the AVX-512 loops give the portable loops' bits") {
  const std::vector<LoweringCase> cases = {
      {32, 14, 14, {3}, {1}, 0, 4},        // the study's second convolution
      {1, 28, 28, {3}, {1}, 3, 3},         // a grey first layer, several samples
      {3, 5, 5, {3}, {1}, 1, 2},           // 25 pixels: one whole vector and a part
      {2, 6, 1, {3, 1}, {1, 0}, 0, 3},     // one pixel wide
      {2, 3, 2, {7}, {3}, 2, 2},           // |dx| up to 3 on a 2-pixel row: taps wholly padding
      {2, 4, 7, {3, 5}, {0, 2}, 1, 2},     // output shorter than the input
      {1, 5, 9, {3}, {3, 1}, 0, 3},        // rows of padding above and below
      {4, 7, 7, {5}, {2}, 5, 1},           // 5 x 5 on 7 x 7: taps that start mid-row
      {3, 40, 40, {3}, {1}, 0, 2},         // 1,600 pixels: many vectors per tap
      {2, 9, 17, {1}, {0}, 0, 3},          // 1 x 1
      {2, 30, 30, {11}, {5}, 1, 2},        // 121 taps: the masks come in blocks of 33 vectors
  };
  if (!mlp::detail::cpu_has_avx512f()) {
    MESSAGE("this CPU has no AVX512F: im2col and col2im run the portable loops only");
    return;
  }
  for (const LoweringCase& c : cases) {
    mlp::detail::Window2d g;
    g.kernel = c.kernel;
    g.padding = c.padding;
    g.bind("test", Shape{c.channels, c.height, c.width});
    const Index P = g.out_pixels(), K = c.channels * g.taps(), batch = c.first + c.count + 1;
    const Index ld = c.count * P + 5;  // room to spare after each column
    INFO("channels ", c.channels, ", image ", c.height, " x ", c.width, ", kernel ", c.kernel.str(), ", padding ",
         c.padding.str(), ", samples ", c.count);
    REQUIRE(mlp::detail::im2col_vectorized(g, c.count));

    const std::vector<float> x_values = lowering_values(c.channels * g.in_pixels() * batch, 7);
    const mlp::Matrix<float> x = Eigen::Map<const mlp::Matrix<float>>(x_values.data(), c.channels * g.in_pixels(), batch);
    std::vector<float> portable(static_cast<std::size_t>(ld * K), 12345.0f), vectorized = portable;
    mlp::detail::im2col_portable<float>(x, c.first, c.count, g, portable.data(), ld);
    mlp::detail::im2col<float>(x, c.first, c.count, g, vectorized.data(), ld);
    Index where = 0;
    CHECK_MESSAGE(same_floats(portable.data(), vectorized.data(), ld * K, where), "im2col differs at ", where);

    const std::vector<float> cols = lowering_values(ld * K, 11);
    std::vector<float> cols_portable = cols, cols_vectorized = cols;  // col2im_portable may zero padding entries
    mlp::Matrix<float> dx_portable = mlp::Matrix<float>::Constant(x.rows(), batch, 54321.0f), dx_vectorized = dx_portable;
    mlp::detail::col2im_portable(cols_portable.data(), ld, c.first, c.count, g, dx_portable);
    mlp::detail::col2im(cols_vectorized.data(), ld, c.first, c.count, g, dx_vectorized);
    CHECK_MESSAGE(same_floats(dx_portable.data(), dx_vectorized.data(), dx_portable.size(), where),
                  "col2im differs at ", where);
    // the vector loops leave cols as they found it
    CHECK(std::memcmp(cols_vectorized.data(), cols.data(), cols.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("im2col and col2im keep the portable loops for strided windows, narrower outputs, a lone plane, huge kernels") {
  const auto window = [](Index channels, Size2 kernel, Size2 stride, Size2 padding) {
    mlp::detail::Window2d g;
    g.kernel = kernel;
    g.stride = stride;
    g.padding = padding;
    g.bind("test", Shape{channels, 8, 8});
    return g;
  };
  CHECK_FALSE(mlp::detail::im2col_vectorized(window(4, {3}, {2}, {1}), 4));  // stride 2
  CHECK_FALSE(mlp::detail::im2col_vectorized(window(4, {3}, {1}, {0}), 4));  // output 6 wide
  CHECK_FALSE(mlp::detail::im2col_vectorized(window(1, {3}, {1}, {1}), 1));  // one plane: masks cost more
  CHECK_FALSE(mlp::detail::im2col_vectorized(window(4, {17}, {1}, {8}), 4));  // 289 taps
  CHECK(mlp::detail::im2col_vectorized(window(1, {3}, {1}, {1}), 3) == mlp::detail::cpu_has_avx512f());
}

// Conv2d's fused products (detail/conv_lowered_avx512.hpp): cols packed straight from the images;
// forward stores each tile into the output's layout with the bias and gives im2col + gemm + copy's
// bits, dL/dW gives im2col + gemm's, on chunks whose vectors of 16 rows run from one sample into
// the next, with several blocks of k, a partial last tile of channels, and more channels (forward)
// or taps (dL/dW) than one packed block of B.
TEST_CASE("Conv2d's fused forward, dL/dW and dL/dx give the bits of im2col, the products and col2im") {
  struct ForwardCase {
    LoweringCase lowering;
    Index out;
  };
  const std::vector<ForwardCase> cases = {
      {{32, 14, 14, {3}, {1}, 0, 4}, 64},   // the study's second convolution: 196 pixels per sample
      {{32, 14, 14, {3}, {1}, 2, 3}, 13},   // a last chunk of 3 samples, 13 channels (tiles of 12 and 1)
      {{40, 5, 5, {3}, {1}, 1, 7}, 5},      // 25 pixels (under 2 vectors), K = 360: two blocks of k
      {{3, 4, 4, {3}, {1}, 0, 3}, 1540},    // 16 pixels: no vector crosses; 1,540 channels: two blocks of B
      {{2, 9, 17, {1}, {0}, 1, 2}, 24},     // 1 x 1
      {{4, 7, 7, {5}, {2}, 0, 11}, 33},     // 5 x 5, 49 pixels, 11 samples: 539 rows, three blocks of rows
      {{1, 28, 28, {3}, {1}, 2, 3}, 32},    // a grey first layer lowered in chunks
      {{200, 4, 4, {3}, {1}, 0, 3}, 40},    // K = 1,800: two blocks of cols' columns in dL/dW
      {{8, 4, 5, {3}, {1}, 1, 3}, 12},      // 20 pixels: one tile holds a vector running on into the
                                            // last sample and that sample's last vector
  };
  if (!mlp::detail::gemm_f32_kernel_available()) {
    MESSAGE("this CPU has no AVX512F: Conv2d's forward lowers into cols and runs the product there");
    return;
  }
  Index dx_cases = 0;
  for (const ForwardCase& fc : cases) {
    const LoweringCase& c = fc.lowering;
    mlp::detail::Window2d g;
    g.kernel = c.kernel;
    g.padding = c.padding;
    g.bind("test", Shape{c.channels, c.height, c.width});
    const Index P = g.out_pixels(), K = c.channels * g.taps(), rows = c.count * P, batch = c.first + c.count + 1;
    INFO("channels ", c.channels, ", image ", c.height, " x ", c.width, ", kernel ", c.kernel.str(), ", samples ",
         c.count, ", out ", fc.out);
    REQUIRE(mlp::detail::conv_lowered_fused(g, c.count));

    const std::vector<float> x_values = lowering_values(c.channels * g.in_pixels() * batch, 3);
    const mlp::Matrix<float> x =
        Eigen::Map<const mlp::Matrix<float>>(x_values.data(), c.channels * g.in_pixels(), batch);
    const std::vector<float> w_values = lowering_values(fc.out * K, 5);
    const mlp::Matrix<float> weight = Eigen::Map<const mlp::Matrix<float>>(w_values.data(), fc.out, K);
    for (const bool zero_bias : {true, false}) {  // a layer without bias adds its zeros (-0 + 0 is +0)
      mlp::Matrix<float> bias = mlp::Matrix<float>::Zero(fc.out, 1);
      if (!zero_bias) bias.setRandom();
      // what Conv2d's forward did before: cols, z = cols W^T, y = z + b block by block
      std::vector<float> cols(static_cast<std::size_t>(rows * K)), z(static_cast<std::size_t>(rows * fc.out));
      mlp::detail::GemmBuffers<float> buffers;
      mlp::detail::im2col<float>(x, c.first, c.count, g, cols.data(), rows);
      mlp::detail::gemm(rows, fc.out, K, cols.data(), rows, false, weight.data(), fc.out, true, z.data(), rows,
                        false, buffers);
      mlp::Matrix<float> expected = mlp::Matrix<float>::Constant(fc.out * P, batch, 777.0f), fused = expected;
      for (Index s = 0; s < c.count; ++s) {
        for (Index o = 0; o < fc.out; ++o) {
          for (Index p = 0; p < P; ++p) {
            expected(o * P + p, c.first + s) = z[static_cast<std::size_t>(o * rows + s * P + p)] + bias(o, 0);
          }
        }
      }
      mlp::detail::ChunkTapMasks masks;
      mlp::detail::build_chunk_tap_masks(g, c.count + 2, masks);  // built for a larger chunk, as Conv2d may
      const mlp::detail::F32Blocking bl;
      std::vector<float> pa(static_cast<std::size_t>(bl.a_floats(rows, K)));
      std::vector<float> pb(static_cast<std::size_t>(bl.b_floats(fc.out, K)));
      mlp::detail::conv_forward_avx512(x.data(), x.rows(), c.first, c.count, g, masks, weight.data(), fc.out,
                                       bias.data(), fused.data(), fused.rows(), pa.data(), pb.data());
      Index where = 0;
      CHECK_MESSAGE(same_floats(expected.data(), fused.data(), expected.size(), where), "differs at ", where,
                    " (zero bias: ", zero_bias, ")");
    }
    // dL/dW = dz^T cols, with cols packed from the images too
    const std::vector<float> dz = lowering_values(rows * fc.out, 9);
    std::vector<float> cols(static_cast<std::size_t>(rows * K));
    mlp::detail::im2col<float>(x, c.first, c.count, g, cols.data(), rows);
    mlp::detail::GemmBuffers<float> buffers;
    mlp::Matrix<float> expected(fc.out, K), fused = mlp::Matrix<float>::Constant(fc.out, K, 777.0f);
    mlp::detail::gemm(fc.out, K, rows, dz.data(), rows, true, cols.data(), rows, false, expected.data(), fc.out,
                      false, buffers);
    mlp::detail::ChunkTapMasks masks;
    mlp::detail::build_chunk_tap_masks(g, c.count, masks);
    std::vector<float> pa(static_cast<std::size_t>(mlp::detail::weight_grad_a_floats(fc.out, rows)));
    std::vector<float> pb(static_cast<std::size_t>(mlp::detail::weight_grad_b_floats(K, rows)));
    mlp::detail::conv_weight_grad_avx512(x.data(), x.rows(), c.first, c.count, g, masks, dz.data(), rows, fc.out,
                                         fused.data(), pa.data(), pb.data());
    Index where = 0;
    CHECK_MESSAGE(same_floats(expected.data(), fused.data(), expected.size(), where), "dL/dW differs at ", where);
    // dL/dx = col2im(dz W), a few channels' columns of dz W at a time
    const std::vector<float> w_grad_values = lowering_values(fc.out * K, 11);
    const mlp::Matrix<float> w = Eigen::Map<const mlp::Matrix<float>>(w_grad_values.data(), fc.out, K);
    std::vector<float> dcols(static_cast<std::size_t>(rows * K), 0.0f);
    mlp::detail::gemm(rows, K, fc.out, dz.data(), rows, false, w.data(), fc.out, false, dcols.data(), rows, false,
                      buffers);
    mlp::Matrix<float> dx_expected = mlp::Matrix<float>::Constant(x.rows(), batch, 777.0f), dx_fused = dx_expected;
    mlp::detail::col2im(dcols.data(), rows, c.first, c.count, g, dx_expected);
    std::vector<float> scratch(static_cast<std::size_t>(rows * K), 555.0f);
    std::vector<float> pa_dx(static_cast<std::size_t>(mlp::detail::input_grad_a_floats(fc.out, rows)));
    std::vector<float> pb_dx(static_cast<std::size_t>(mlp::detail::input_grad_b_floats(g, fc.out)));
    mlp::detail::conv_input_grad_avx512(dz.data(), rows, fc.out, w.data(), g, c.first, c.count, scratch.data(),
                                        pa_dx.data(), pb_dx.data(), dx_fused.data(), dx_fused.rows());
    CHECK_MESSAGE(same_floats(dx_expected.data(), dx_fused.data(), dx_expected.size(), where), "dL/dx differs at ",
                  where, " (channels per group ", mlp::detail::input_grad_channels(g, rows), ")");
    ++dx_cases;
  }
  CHECK(dx_cases == static_cast<Index>(cases.size()));
}

// Conv2d sizes the fused products' packing buffers once, for its full chunk of samples; a batch's
// last chunk may be smaller and need more (weight_grad_kc and input_grad_channels do not grow with
// the rows). The sizes must hold every chunk from one sample up to the full one.
TEST_CASE("the fused products' packing buffer sizes hold every smaller chunk") {
  using mlp::detail::kF32Mr;
  using mlp::detail::kF32Nr;
  using mlp::detail::round_up;
  Index checked = 0;
  for (const Index pixels_side : {3, 4, 5, 7, 14, 28}) {
    for (const Index channels : {1, 5, 40, 200}) {
      mlp::detail::Window2d g;
      g.kernel = Size2(3);
      g.padding = Size2(1);
      g.bind("test", Shape{channels, 3, pixels_side});
      const Index P = g.out_pixels(), K = channels * g.taps();
      for (const Index out : {1, 33, 300}) {
        for (Index chunk = 1; chunk <= 16; ++chunk) {
          const Index full = chunk * P;
          for (Index count = 1; count <= chunk; ++count) {
            const Index rows = count * P;
            INFO("channels ", channels, ", 3 x ", pixels_side, ", out ", out, ", chunk ", chunk, ", count ", count);
            const mlp::detail::F32Blocking bl;
            const Index a_needed = std::min(bl.mc, round_up(out, kF32Mr)) * mlp::detail::weight_grad_kc(rows);
            const Index b_needed = std::min(bl.nc, round_up(K, kF32Nr)) * mlp::detail::weight_grad_kc(rows);
            CHECK(a_needed <= mlp::detail::weight_grad_a_floats(out, full));
            CHECK(b_needed <= mlp::detail::weight_grad_b_floats(K, full));
            const Index group = mlp::detail::input_grad_channels(g, rows);
            CHECK(round_up(group * g.taps(), kF32Nr) * out <= mlp::detail::input_grad_b_floats(g, out));
            CHECK(mlp::detail::input_grad_a_floats(out, rows) <= mlp::detail::input_grad_a_floats(out, full));
            ++checked;
          }
        }
      }
    }
  }
  CHECK(checked > 1000);
}
