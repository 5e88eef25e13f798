// Conv2d: forward and backward against PyTorch and a direct loop, gradient checks over several
// shapes, configuration, and the messages for bad configurations and inputs.
#include "helpers.hpp"
#include "torch_reference.hpp"

#include <mlp/layers/conv2d.hpp>
#include <mlp/layers/flatten.hpp>
#include <mlp/model/sequential.hpp>

#include <cmath>
#include <memory>
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

double ref_w(Index j) { return static_cast<double>((j * 53) % 97) / 97.0 - 0.5; }

struct ConvCase {
  Index in, out, height, width;
  Size2 kernel, stride, padding;
  bool bias;
  Index batch;
};

std::unique_ptr<mlp::Conv2d<double>> make_conv(const ConvCase& c, std::uint64_t seed = 1) {
  mlp::Rng rng(seed);
  auto conv = std::make_unique<mlp::Conv2d<double>>(c.in, c.out, c.kernel, rng,
                                                    mlp::Conv2dOptions{c.stride, c.padding, c.bias});
  if (c.bias) conv->bias() = mlp_test::random_matrix(c.out, 1, seed + 1);
  conv->bind(Shape{c.in, c.height, c.width});
  return conv;
}

// y[o, oy, ox] = b[o] + sum_{c, ky, kx} W[o, c, ky, kx] x[c, oy sh + ky - ph, ox sw + kx - pw].
MatrixD direct_conv(const mlp::Conv2d<double>& conv, const MatrixD& x) {
  const Shape in = conv.input_shape(), out = conv.output_shape();
  const Size2 k = conv.kernel_size(), st = conv.stride(), pd = conv.padding();
  MatrixD y(out.size(), x.cols());
  for (Index s = 0; s < x.cols(); ++s)
    for (Index o = 0; o < out.channels; ++o)
      for (Index oy = 0; oy < out.height; ++oy)
        for (Index ox = 0; ox < out.width; ++ox) {
          double sum = conv.bias()(o, 0);
          for (Index c = 0; c < in.channels; ++c)
            for (Index ky = 0; ky < k.h; ++ky)
              for (Index kx = 0; kx < k.w; ++kx) {
                const Index iy = oy * st.h + ky - pd.h, ix = ox * st.w + kx - pd.w;
                if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;
                sum += conv.weight()(o, (c * k.h + ky) * k.w + kx) * x(c * in.pixels() + iy * in.width + ix, s);
              }
          y(o * out.pixels() + oy * out.width + ox, s) = sum;
        }
  return y;
}

// Square, rectangular, strided, padded, 1 x 1, whole-image and odd-sized cases; the "same"
// 3 x 3 cases take the contiguous im2col path, the others the row-by-row one; a batch of 20
// makes several chunks. The last one wrote past a sample's lowering once (a tap whose first
// output lay beyond the last pixel).
const std::vector<ConvCase> kConvCases = {
    {1, 1, 5, 5, {3}, {1}, {0}, true, 2},        {2, 3, 6, 5, {3, 2}, {2, 1}, {1, 0}, true, 2},
    {3, 2, 7, 7, {3}, {2}, {1}, false, 2},       {2, 2, 4, 5, {3}, {1}, {1}, true, 3},
    {2, 4, 5, 5, {1}, {1}, {0}, true, 2},        {1, 2, 5, 4, {2, 3}, {1, 2}, {1, 1}, true, 2},
    {2, 2, 3, 3, {3}, {1}, {2}, true, 2},        {2, 3, 4, 6, {4, 6}, {1}, {0}, true, 2},
    {3, 2, 5, 3, {5, 3}, {3, 1}, {2, 1}, false, 2}, {2, 2, 3, 4, {3}, {1}, {1}, true, 20},
    {2, 2, 3, 2, {7}, {1}, {3}, true, 2},  // padding as large as the image: whole taps in the padding
};

const mlp::ConvMethod kMethods[] = {mlp::ConvMethod::Lowered, mlp::ConvMethod::PerSample};

const char* method_name(mlp::ConvMethod m) { return m == mlp::ConvMethod::Lowered ? "lowered" : "per sample"; }

}  // namespace

TEST_CASE("Conv2d matches PyTorch: rectangular kernel, stride 2 x 1, padding, bias, two samples") {
  // PyTorch 1.13 in float64:
  //   conv = nn.Conv2d(2, 2, (3, 2), stride=(2, 1), padding=(1, 1)).double()
  //   conv.weight[:] = ref_w(j) in memory order; conv.bias[:] = [-0.05, 0.05]
  //   x = ref_x(i).reshape(2, 2, 4, 3); y = conv(x); y.backward(ref_dy(k).reshape(y.shape))
  //   printed y, x.grad, conv.weight.grad, conv.bias.grad with format(v, ".17g").
  mlp::Rng rng(1);
  mlp::Conv2d<double> conv(2, 2, {3, 2}, rng, {{2, 1}, {1, 1}, true});
  conv.bind(Shape{2, 4, 3});
  for (Index j = 0; j < conv.weight().size(); ++j) conv.weight()(j / 12, j % 12) = ref_w(j);
  conv.bias() << -0.05, 0.05;
  conv.set_input_grad(true);
  CHECK(conv.output_shape() == Shape{2, 2, 4});
  check_values(conv.forward(filled(24, 2, ref_x), mlp::Mode::Train), {
    -0.45824742268041224, 0.44752577319587628, 0.15845360824742272, -0.34443298969072161,
    -0.37577319587628855, 1.8391752577319589, -0.75010309278350529, -0.28422680412371132,
    0.52835051546391754, -0.25144329896907214, -0.43391752577319587, 0.22876288659793817,
    0.65618556701030939, -0.54969072164948451, 0.94639175257731978, -0.26690721649484539,
    0.16587628865979379, -0.76340206185567006, 1.2486597938144328, -0.2323711340206186,
    -0.28237113402061853, -0.58855670103092783, 0.039587628865979343, -0.24391752577319581,
    -0.31371134020618563, 0.59618556701030945, -0.42969072164948452, 0.95010309278350524,
    -0.34422680412371132, 0.11041237113402053, -0.34061855670103092, -0.084948453608247404});
  check_values(conv.backward(filled(16, 2, ref_dy)), {
    0.067068226572454565, -0.50735549635121047, -0.17456272442951459, -0.46090582647978678,
    -0.70253677748175614, 0.16923433337194482, -0.4883586238850921, -0.15556585196339626,
    0.38341248696860869, -0.47376346577087919, -0.084675083980076421, 0.51059886482103556,
    -0.0079925865863547108, -0.41352947990269895, 0.088150121626317676, -0.35734970462180005,
    0.43542221707401824, 0.34159620062550677, -0.44457314954245331, 0.057106451986563223,
    0.76497162052588896, 0.49137032317850105, -0.25402525194022935, -0.79323526004865053,
    -0.41237113402061853, -0.079578362098922745, 0.45939997683308231, -0.51256805282057216,
    0.35920305803312869, 0.23097416888682953, -0.06058148963280427, 0.47839684929920079,
    -0.37437738908838181, -0.073091625159272477, 0.52218232364183947, -0.4598633151859145,
    -0.56874782810147106, -0.067068226572454537, 0.6407969419668712, 0.57442372292366506,
    0.48059770647515354, -1.1699293409011933, -0.098111896212208907, 0.60975327232711685,
    -0.63083516738098, -0.043206301401598521, -0.58241630951001966, 0.74435306382485811});
  check_values(conv.weight_grad(), {
    0.30426966292134816, 0.4435955056179775, 0.69393258426966264, 1.4925842696629212,
    0.56314606741573003, -0.40943820224719091, 0.42089887640449442, 0.54134831460674149,
    -0.39662921348314595, 1.487865168539326, -0.61820224719101113, -0.50494382022471906,
    0.38966292134831437, -0.95101123595505621, -0.61528089887640469, -0.73662921348314581,
    -1.8961797752808986, 0.65123595505617948, 0.65730337078651691, -0.702247191011236,
    1.0474157303370788, -0.42808988764044947, -0.32426966292134818, 0.86898876404494341}, true);
  check_values(conv.bias_grad(), {-0.0898876404494382, 1.3258426966292136});
}

TEST_CASE("Conv2d matches PyTorch: 3 x 3 kernel, padding 1, no bias") {
  // PyTorch 1.13 in float64, as above with
  //   conv = nn.Conv2d(2, 2, 3, stride=1, padding=1, bias=False).double(); x = ref_x(i).reshape(1, 2, 4, 5)
  mlp::Rng rng(1);
  mlp::Conv2d<double> conv(2, 2, 3, rng, {1, 1, false});
  conv.bind(Shape{2, 4, 5});
  for (Index j = 0; j < conv.weight().size(); ++j) conv.weight()(j / 18, j % 18) = ref_w(j);
  conv.set_input_grad(true);
  check_values(conv.forward(filled(40, 1, ref_x), mlp::Mode::Train), {
    0.56958762886597925, -0.5670103092783505, 0.32041237113402077, 0.29154639175257735,
    -0.45453608247422672, 0.3347422680412373, 0.11597938144329897, 0.87979381443298965,
    -0.99072164948453589, 0.30494845360824741, -0.29711340206185577, -0.63597938144329891,
    -0.41360824742268038, 0.6521649484536084, -0.47762886597938153, 0.31659793814432974,
    0.013711340206185594, 0.87381443298969064, 0.36989690721649449, -0.69608247422680414,
    0.51659793814433008, 0.030927835051546365, -0.49360824742268045, 0.08556701030927831,
    0.1685567010309279, 0.061958762886597997, -1.0887628865979382, 0.75030927835051542,
    -0.37814432989690705, -0.030515463917525826, 0.10350515463917519, 0.51597938144329891,
    -0.20639175257731965, -0.41855670103092785, 0.20030927835051554, -0.39185567010309291,
    -0.12835051546391751, -0.14701030927835043, 0.15711340206185573, -0.65525773195876291});
  check_values(conv.backward(filled(40, 1, ref_dy)), {
    -0.14583574655392106, -0.33001274180470286, -0.52380400787675219, -0.27429630487663603,
    -0.31947179427777161, -0.5601760685740762, 0.05699061739835521, -0.18359782230974175,
    -0.166454303254952, 0.16738097996061629, 0.22228657477122671, -0.11502374609058255,
    -0.097880227035792744, -0.080736707981003131, 0.25865863546855089, -0.041700451754893952,
    -0.13737982161473425, 0.78373682381559129, -0.10957952044480472, -0.026410286111432868,
    0.81651801227846643, -0.047608015753503929, -1.0881501216263174, 0.47955519518128092,
    0.20421637901077261, -1.0346345418742036, 0.84698250897718053, -0.23294335688636611,
    -0.89018881037877939, 0.010656782115139485, 0.17386771690026648, -0.86192517085601728,
    0.48082937565156936, -0.17641607784084309, -0.56550445963164619, -0.22529827406463576,
    0.34182786980192292, -0.070543264218695723, -0.29734738793003601, 0.42638711919379135});
  check_values(conv.weight_grad(), {
    -2.4770786516853933, -0.11887640449438211, 0.8417977528089885, 1.7143820224719097,
    -1.858876404494382, 2.1337078651685393, 1.4314606741573033, -0.94337078651685402,
    -1.164269662921348, -1.0932584269662919, 2.8539325842696623, -1.5368539325842696,
    -2.7114606741573031, 1.2489887640449437, 0.24044943820224737, 1.2750561797752806,
    -0.93213483146067411, 1.6995505617977527, -0.24202247191011225, 2.4757303370786512,
    -1.2642696629213481, -2.7570786516853927, 1.4808988764044941, 0.49280898876404539,
    0.3932584269662921, -2.5883146067415725, 2.3364044943820224, 2.5364044943820216,
    -1.8301123595505617, -0.16022471910112349, 0.29258426966292139, 1.9851685393258423,
    -2.0049438202247192, -2.4085393258426966, 1.4961797752808987, -0.16516853932584291}, true);
  CHECK(conv.parameters().size() == 1);
}

TEST_CASE("Conv2d forward equals a direct loop over many shapes, in float and double, by either method") {
  for (const ConvCase& c : kConvCases) {
    for (const mlp::ConvMethod method : kMethods) {
      auto layer = make_conv(c);
      mlp::Conv2d<double>& conv = *layer;
      conv.set_method(method);
      INFO(conv.describe() << " on " << conv.input_shape().str() << ", " << method_name(method));
      const MatrixD x = mlp_test::random_matrix(conv.input_shape().size(), c.batch, 3);
      const MatrixD expected = direct_conv(conv, x);
      CHECK((conv.forward(x, mlp::Mode::Eval) - expected).cwiseAbs().maxCoeff() < 1e-12);
      mlp::Rng rng(1);
      mlp::Conv2d<float> single(c.in, c.out, c.kernel, rng, {c.stride, c.padding, c.bias});
      single.weight() = conv.weight().cast<float>();
      single.bias() = conv.bias().cast<float>();
      single.bind(conv.input_shape());
      single.set_method(method);
      const MatrixD y = single.forward(x.cast<float>(), mlp::Mode::Train).cast<double>();
      CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-5);
    }
  }
}

TEST_CASE("Conv2d gradients pass the finite-difference check over many shapes, by either method") {
  for (const ConvCase& c : kConvCases) {
    for (const mlp::ConvMethod method : kMethods) {
      auto layer = make_conv(c);
      mlp::Conv2d<double>& conv = *layer;
      conv.set_method(method);
      INFO(conv.describe() << " on " << conv.input_shape().str() << ", batch " << c.batch << ", "
                           << method_name(method));
      const auto report =
          mlp_test::check_layer(conv, mlp_test::random_matrix(conv.input_shape().size(), c.batch, 5));
      INFO(report.describe());
      CHECK(report.max_rel_error < 1e-6);
      CHECK(report.checked == conv.parameter_count() + conv.input_shape().size() * c.batch);
    }
  }
}

// The two methods sum in different orders: float results agree to rounding. The shapes leave
// remainders everywhere in the per-sample tiles (pixels not a multiple of a packet, channels not a
// multiple of 8 or 4, taps not a multiple of 4) and make several chunks.
TEST_CASE("Conv2d's per-sample and lowered methods agree in float, forward and backward") {
  const std::vector<ConvCase> cases = {
      {1, 32, 28, 28, {3}, {1}, {1}, true, 20}, {3, 13, 9, 7, {5, 3}, {2, 1}, {2, 1}, true, 19},
      {2, 7, 6, 6, {1}, {1}, {0}, false, 5},    {4, 9, 11, 10, {5}, {1}, {2}, true, 33},
      {1, 1, 3, 3, {3}, {1}, {1}, true, 2},
  };
  for (const ConvCase& c : cases) {
    mlp::Rng rng(7);
    mlp::Conv2d<float> lowered(c.in, c.out, c.kernel, rng, {c.stride, c.padding, c.bias});
    mlp::Conv2d<float> per_sample(c.in, c.out, c.kernel, rng, {c.stride, c.padding, c.bias});
    per_sample.weight() = lowered.weight();
    per_sample.bias() = lowered.bias();
    lowered.bind(Shape{c.in, c.height, c.width});
    per_sample.bind(Shape{c.in, c.height, c.width});
    lowered.set_method(mlp::ConvMethod::Lowered);
    per_sample.set_method(mlp::ConvMethod::PerSample);
    INFO(lowered.describe() << " on " << lowered.input_shape().str() << ", batch " << c.batch);
    const mlp::Matrix<float> x = mlp_test::random_matrix<float>(lowered.input_shape().size(), c.batch, 11);
    const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(lowered.output_shape().size(), c.batch, 12);
    // Relative to the largest value: a sum of many terms of either sign loses digits to cancellation.
    const auto close = [](const mlp::Matrix<float>& a, const mlp::Matrix<float>& b) {
      REQUIRE(a.rows() == b.rows());
      REQUIRE(a.cols() == b.cols());
      return (a - b).cwiseAbs().maxCoeff() <= 1e-5f * b.cwiseAbs().maxCoeff();
    };
    CHECK(close(per_sample.forward(x, mlp::Mode::Train), lowered.forward(x, mlp::Mode::Train)));
    CHECK(close(per_sample.backward(dy), lowered.backward(dy)));
    CHECK(close(per_sample.weight_grad(), lowered.weight_grad()));
    CHECK(close(per_sample.bias_grad(), lowered.bias_grad()));
  }
}

// A batch's last chunk of samples may need more packing buffer than a full one: a chunk of 16
// samples of 21 pixels splits dL/dW's k into two blocks of 176 rows, the last 15 samples of a batch
// of 31 take one block of 320; a last chunk of one sample (a batch of 33) takes more channels per
// group in dL/dx. Both wrote past buffers sized for a full chunk once (found by a fuzzer; the
// sanitizer build of the tests catches it); the gradients are checked against the double layer's.
TEST_CASE("Conv2d's float gradients are right when the batch's last chunk is smaller than the others") {
  for (const Index batch : {31, 33, 2, 1}) {
    const ConvCase c{40, 33, 3, 7, {3}, {1}, {1}, true, batch};
    auto reference = make_conv(c);
    mlp::Rng rng(1);
    mlp::Conv2d<float> conv(c.in, c.out, c.kernel, rng, {c.stride, c.padding, c.bias});
    conv.weight() = reference->weight().cast<float>();
    conv.bias() = reference->bias().cast<float>();
    conv.bind(reference->input_shape());
    conv.set_method(mlp::ConvMethod::Lowered);
    INFO(conv.describe() << " on " << conv.input_shape().str() << ", batch " << batch);
    const MatrixD x = mlp_test::random_matrix(conv.input_shape().size(), batch, 3);
    const MatrixD dy = mlp_test::random_matrix(conv.output_shape().size(), batch, 4);
    reference->forward(x, mlp::Mode::Train);
    const MatrixD dx = reference->backward(dy);
    conv.forward(x.cast<float>(), mlp::Mode::Train);
    const MatrixD dx_float = conv.backward(dy.cast<float>()).cast<double>();
    const auto close = [](const MatrixD& a, const MatrixD& b) {
      return (a - b).cwiseAbs().maxCoeff() <= 1e-5 * b.cwiseAbs().maxCoeff();
    };
    CHECK(close(dx_float, dx));
    CHECK(close(conv.weight_grad().cast<double>(), reference->weight_grad()));
    CHECK(close(conv.bias_grad().cast<double>(), reference->bias_grad()));
  }
}

TEST_CASE("Conv2d picks the per-sample method for first layers, and not with bf16 products") {
  mlp::Rng rng(1);
  CHECK(mlp::Conv2d<float>(1, 32, 3, rng).method() == mlp::ConvMethod::PerSample);
  CHECK(mlp::Conv2d<double>(3, 16, 5, rng).method() == mlp::ConvMethod::PerSample);
  CHECK(mlp::Conv2d<float>(32, 64, 3, rng).method() == mlp::ConvMethod::Lowered);  // 32 channels
  CHECK(mlp::Conv2d<float>(3, 64, 7, rng).method() == mlp::ConvMethod::Lowered);   // 147 taps
  mlp::Conv2d<float> large(3, 16, 3, rng, {1, 1});
  large.bind(Shape{3, 32, 32});
  CHECK(large.method() == mlp::ConvMethod::PerSample);
  large.bind(Shape{3, 224, 224});  // one sample's lowering: 50,176 x 27 values, beyond what was measured
  CHECK(large.method() == mlp::ConvMethod::Lowered);
  mlp::Conv2d<float> first(1, 8, 3, rng);
  first.set_matmul_precision(mlp::MatmulPrecision::BFloat16);
  CHECK(first.method() == mlp::ConvMethod::Lowered);
  CHECK_THROWS_WITH_AS(first.set_method(mlp::ConvMethod::PerSample),
                       "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)): bf16 products take the lowered method, "
                       "not PerSample",
                       mlp::InvalidArgument);
  mlp::Conv2d<float> forced(1, 8, 3, rng);
  forced.set_method(mlp::ConvMethod::PerSample);
  CHECK_THROWS_WITH_AS(forced.set_matmul_precision(mlp::MatmulPrecision::BFloat16),
                       "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)) was set to the PerSample method, which "
                       "has no bf16 products",
                       mlp::InvalidArgument);
  forced.set_method(mlp::ConvMethod::Auto);
  forced.set_matmul_precision(mlp::MatmulPrecision::BFloat16);
  CHECK(forced.method() == mlp::ConvMethod::Lowered);

  // A model switches all its layers or none: the Conv2d before a refusing one stays fp32 (and so
  // per sample, which bf16 would have made lowered).
  mlp::Sequential<float> model(Shape{1, 8, 8});
  auto& first_conv = model.emplace<mlp::Conv2d<float>>(1, 2, 3, rng);
  auto& refusing = model.emplace<mlp::Conv2d<float>>(2, 2, 3, rng);
  refusing.set_method(mlp::ConvMethod::PerSample);
  CHECK_THROWS_AS(model.set_matmul_precision(mlp::MatmulPrecision::BFloat16), mlp::InvalidArgument);
  CHECK(model.matmul_precision() == mlp::MatmulPrecision::Float32);
  CHECK(first_conv.method() == mlp::ConvMethod::PerSample);
}

TEST_CASE("Conv2d as the first layer skips dL/dx and still computes its parameter gradients") {
  for (const mlp::ConvMethod method : kMethods) {
    INFO(method_name(method));
    auto layer = make_conv(kConvCases[3]);
    mlp::Conv2d<double>& conv = *layer;
    conv.set_method(method);
    const MatrixD x = mlp_test::random_matrix(conv.input_shape().size(), 3, 2);
    const MatrixD dy = mlp_test::random_matrix(conv.output_shape().size(), 3, 4);
    conv.forward(x, mlp::Mode::Train);
    const MatrixD dx = conv.backward(dy);
    const MatrixD dweight = conv.weight_grad(), dbias = conv.bias_grad();
    conv.set_input_grad(false);
    conv.forward(x, mlp::Mode::Train);
    CHECK(conv.backward(dy).size() == 0);
    CHECK(conv.weight_grad() == dweight);
    CHECK(conv.bias_grad() == dbias);
    CHECK(dx.rows() == conv.input_shape().size());
  }
}

TEST_CASE("Conv2d describes itself as PyTorch does and rebuilds from its configuration") {
  mlp::Rng rng(3);
  mlp::Conv2d<float> conv(3, 8, {5, 3}, rng, {{2, 1}, {2, 1}, false, mlp::Init::TorchDefault});
  CHECK(conv.describe() == "Conv2d(3, 8, kernel_size=(5, 3), stride=(2, 1), padding=(2, 1), bias=false)");
  CHECK(mlp::Conv2d<float>(1, 32, 3, rng).describe() == "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))");
  CHECK(conv.weight().rows() == 8);
  CHECK(conv.weight().cols() == 45);
  CHECK(conv.weight().cwiseAbs().maxCoeff() <= 1.0f / std::sqrt(45.0f));  // PyTorch's default bound
  const mlp::LayerConfig config = conv.config();
  for (const char* key : {"in_channels", "out_channels", "kernel_h", "kernel_w", "stride_h", "stride_w",
                          "padding_h", "padding_w", "bias"}) {
    CHECK(config.has(key));
  }
  CHECK(config.text("kernel_h") == "5");
  CHECK(config.text("stride_w") == "1");
  CHECK(config.text("bias") == "0");
  const auto rebuilt = mlp::Conv2d<float>::from_config(config);
  CHECK(rebuilt->describe() == conv.describe());
  const auto shapes = mlp::Conv2d<float>::state_shapes(config);
  REQUIRE(shapes.size() == 1);
  CHECK(shapes[0].name == "weight");
  CHECK(shapes[0].rows == 8);
  CHECK(shapes[0].cols == 45);
  const auto params = mlp::Conv2d<float>(2, 4, 3, rng).parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].decay);
  CHECK(!params[1].decay);
}

TEST_CASE("Conv2d rejects bad configurations and inputs, naming the layer and the shapes") {
  mlp::Rng rng(1);
  CHECK_THROWS_WITH_AS(mlp::Conv2d<float>(1, 4, 3, rng, {0}), "Conv2d stride has to be positive, but got (0, 0)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::Conv2d<float>(1, 4, {3, 0}, rng),
                       "Conv2d kernel_size has to be positive, but got (3, 0)", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::Conv2d<float>(1, 4, 3, rng, {1, {0, -1}}),
                       "Conv2d padding cannot be negative, but got (0, -1)", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::Conv2d<float>(0, 4, 3, rng),
                       "Conv2d needs positive channel counts, but got in_channels=0 and out_channels=4",
                       mlp::InvalidArgument);
  mlp::Conv2d<float> big(1, 2, 5, rng, {1, 1});
  CHECK_THROWS_WITH_AS(big.bind(Shape{1, 2, 9}),
                       "Conv2d(1, 2, kernel_size=(5, 5), stride=(1, 1), padding=(1, 1)) cannot take an input of "
                       "1 x 2 x 9: its 5 x 5 kernel is larger than the padded input of 4 x 11 (padding 1 x 1)",
                       mlp::InvalidArgument);
  // A padding far too large would ask for 32 x 200026 x 200026 values per sample at the first batch.
  mlp::Conv2d<float> padded(1, 32, 3, rng, {1, 100000});
  CHECK_THROWS_WITH_AS(padded.bind(Shape{1, 28, 28}),
                       "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(100000, 100000)) would give "
                       "outputs of 32 x 200026 x 200026 on an input of 1 x 28 x 28; a sample may have at most "
                       "268435456 values (is a padding or a size far too large?)",
                       mlp::InvalidArgument);
  // Dimensions whose product wraps to 0 (2^14 x 2^25 x 2^25 = 2^64) are refused too.
  mlp::Conv2d<float> wrapping(1, 16384, 2, rng, {1, mlp::Index{1} << 24});
  CHECK_THROWS_WITH_AS(wrapping.bind(Shape{1, 1, 1}), doctest::Contains("would give outputs of 16384 x 33554432 x 33554432"),
                       mlp::InvalidArgument);
  // The limit itself: 2^28 values per sample are allowed, one row more is not (checked without allocating).
  CHECK(mlp::within_sample_limit(Shape{1, 16384, 16384}));
  CHECK(mlp::within_sample_limit(Shape{16, 4096, 4096}));
  CHECK_FALSE(mlp::within_sample_limit(Shape{16, 4097, 4096}));
  CHECK_FALSE(mlp::within_sample_limit(Shape{mlp::Index{1} << 40, mlp::Index{1} << 40, 1}));
  CHECK_FALSE(mlp::within_sample_limit(Shape{0, 28, 28}));
  mlp::Conv2d<float> rgb(3, 2, 3, rng);
  CHECK_THROWS_WITH_AS(rgb.bind(Shape{1, 28, 28}),
                       "Conv2d(3, 2, kernel_size=(3, 3), stride=(1, 1)) needs 3 input channels, but its input is "
                       "1 x 28 x 28",
                       mlp::InvalidArgument);
  // Used on its own without bind(), a batch is taken for feature vectors: the message says what to do.
  CHECK_THROWS_WITH_AS(rgb.forward(mlp::Matrix<float>::Zero(12, 2), mlp::Mode::Train),
                       doctest::Contains("needs 3 input channels, but its input is 12 features (a Conv2d used on "
                                         "its own must first be bound to its image shape"),
                       mlp::InvalidArgument);
  mlp::Sequential<float> model(Shape{1, 28, 28});
  model.emplace<mlp::Conv2d<float>>(1, 4, 3, rng);
  CHECK_THROWS_WITH_AS(model.emplace<mlp::Conv2d<float>>(3, 8, 3, rng),
                       "Sequential: layer 1 (Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))) cannot follow layer 0 "
                       "(Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))), whose output is 4 x 26 x 26: Conv2d(3, 8, "
                       "kernel_size=(3, 3), stride=(1, 1)) needs 3 input channels, but its input is 4 x 26 x 26",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::Conv2d<float>::from_config(mlp::LayerConfig()
                                                           .set("in_channels", 1).set("out_channels", 2)
                                                           .set("kernel_h", 3).set("kernel_w", 3)
                                                           .set("stride_h", 0).set("stride_w", 1)
                                                           .set("padding_h", 0).set("padding_w", 0)
                                                           .set("bias", true)),
                       "layer configuration 'stride_h' has to be an integer from 1 to 16777216, but is '0'",
                       mlp::InvalidArgument);
}
