// BatchNorm2d: Train forward, backward and running statistics against PyTorch, gradient checks over
// several shapes, Eval mode, agreement with BatchNorm1d on 1 x 1 images, and messages.
#include "helpers.hpp"
#include "torch_reference.hpp"

#include <mlp/layers/activations.hpp>
#include <mlp/detail/exact_sqrt.hpp>
#include <mlp/layers/batchnorm.hpp>
#include <mlp/layers/pooling.hpp>
#include <mlp/model/sequential.hpp>

#include <cmath>
#include <cstring>
#include <vector>

using mlp::Index;
using mlp::Shape;
using mlp_test::MatrixD;
using mlp_test::ThreadCount;
using mlp_test::check_values;
using mlp_test::filled;
using mlp_test::ref_dy;
using mlp_test::ref_x;

namespace {

}  // namespace

TEST_CASE("BatchNorm2d matches PyTorch in Train mode: output, gradients and running statistics") {
  // PyTorch 1.13 in float64:
  //   bn = nn.BatchNorm2d(3).double(); bn.weight[:] = [0.5, 1.25, -0.75]; bn.bias[:] = [0.1, -0.2, 0.3]
  //   x = ref_x(i).reshape(2, 3, 3, 4); bn.train(); y = bn(x); y.backward(ref_dy(k).reshape(y.shape))
  //   printed y, x.grad, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var (".17g").
  mlp::BatchNorm2d<double> bn(3);
  bn.bind(Shape{3, 3, 4});
  bn.weight() << 0.5, 1.25, -0.75;
  bn.bias() << 0.1, -0.2, 0.3;
  check_values(bn.forward(filled(36, 2, ref_x), mlp::Mode::Train), {
    -0.65002206010391095, -0.028735129719328002, 0.59255180066525492, -0.48210667351348313,
    0.13918025687109978, 0.76046718725568274, -0.31419128692305526, 0.30709564346152757,
    0.92838257384611045, -0.1462759003326275, 0.47501103005195555, -0.5996474441267825,
    -0.69409259223032105, 0.96785521799894103, -1.9068653186138367, -0.24491750838457463,
    1.4170303018446875, -1.4576902347680902, 0.20425757546117176, 1.8662053856904337,
    -1.0085151509223436, 0.65343265930691818, -2.2212878773058593, -0.55934006707659722,
    -0.36523688679504374, 1.2189551412936184, 0.30309412505486061, -0.61276689118389716,
    0.97142513690476495, 0.055564120666007202, -0.86029689557275058, 0.72389513251591153,
    -0.19196588372284618, 1.3922261443658159, 0.476365128127058, -0.4394958881116996,
    -0.33098282558209807, 0.29030410480248497, 0.91159103518706786, -0.16306743899167028,
    0.45821949139291274, -0.61643898278582532, 0.0048479475987575904, 0.62613487798334055,
    -0.44852359619539756, 0.17276333418918538, 0.79405026457376826, -0.28060820960496979,
    0.15934006707659706, 1.8212878773058592, -1.0534326593069183, 0.60851515092234343,
    -2.2662053856904341, -0.60425757546117187, 1.0576902347680903, -1.8170303018446872,
    -0.15508249161542526, 1.5068653186138368, -1.3678552179989409, 0.29409259223032114,
    -0.83554389513386518, 0.74864813295479693, -0.16721288328396081, 1.4169791448047011,
    0.5011181285659434, -0.4147428876728142, 1.1694491404158478, 0.25358812417708987,
    -0.66227289206166784, 0.92191913602699416, 0.0060581197882364716, 1.5902501478768984});
  check_values(bn.backward(filled(36, 2, ref_dy)), {
    -0.88558035941831337, -0.28730922864860792, 0.31096190212109742, 0.76965892986764739,
    -0.31122380526692545, 0.28704732550277984, 0.74574435324932997, -0.33513838188524298,
    0.26313274888446242, 0.72182977663101233, -0.35905295850356039, 0.099644069242989519,
    1.4626942922526913, -1.3077521189534274, -0.2898996475843873, 1.431404779666958,
    -1.3390416315391609, -0.32118916017012078, 1.4001152670812247, -1.370331144124894,
    -0.35247867275585371, 1.3688257544954912, -2.1050726125929327, -0.38376818534158719,
    -0.73827810945863992, 0.66851269130488455, 0.013394557361966895, -0.64172357658095081,
    0.76506722418257378, 0.10994909023965585, -0.54516904370326202, 0.86162175706026245,
    0.2065036231173448, -0.86200562000766512, 0.95817628993795168, 0.30305815599503372,
    0.36702448404299959, -0.71385825109157319, -0.11558712032186789, 0.34310990742468206,
    -0.73777282770989072, -0.27907579996334075, 0.31919533080636464, -0.76168740432820814,
    -0.30299037658165823, 0.29528075418804706, 0.89355188495775251, -0.3269049531999757,
    0.3837681853415873, 2.1050726125929327, -1.3688257544954918, 0.35247867275585376,
    1.370331144124894, -1.4001152670812247, 0.32118916017012089, 1.3390416315391609,
    -1.4314047796669582, 0.28989964758438741, 1.3077521189534274, -1.4626942922526913,
    0.0069851758915353548, -1.0615240672334747, 0.75865784271214221, -0.30985140041286779,
    -0.96496953435578559, 0.8552123755898311, -0.21329686753517896, -0.86841500147809669,
    0.95176690846752021, -0.11674233465748998, -0.77186046860040758, 0.6349303321631169});
  check_values(bn.weight_grad(), {-1.1762881613435818, -2.0712522967448814, 2.404842065111183});
  check_values(bn.bias_grad(), {-0.449438202247191, 3.2359550561797747, -1.0786516853932588});
  check_values(bn.running_mean(), {-0.010666666666666668, 0.0019999999999999992, 0.0062499999999999986});
  check_values(bn.running_var(), {0.93700753623188404, 0.93232347826086959, 0.93831760869565217});
  CHECK(bn.num_batches_tracked() == 1.0);
}

TEST_CASE("BatchNorm2d gradients pass the finite-difference check over several shapes") {
  struct Case {
    Shape in;
    Index batch;
    double tolerance = 1e-6;
  };
  // {100, 4, 4}: channels in groups of 96 and 4 at 1 thread, 4 of 25 at 2 (detail::channel_group),
  // whatever the thread count of the run. Its loss sums 3,200
  // outputs, whose round-off in the central differences reaches a few 1e-9 (absolute), which the
  // floor of 1e-3 turns into a few 1e-6; an error in the formula would be of the gradient's size.
  for (const Case& c : {Case{{3, 3, 4}, 2}, Case{{2, 5, 3}, 3}, Case{{1, 2, 2}, 4}, Case{{4, 1, 3}, 2},
                        Case{{2, 7, 5}, 1}, Case{{100, 4, 4}, 2, 2e-5}}) {
    mlp::BatchNorm2d<double> bn(c.in.channels);
    bn.bind(c.in);
    bn.weight() = mlp_test::random_matrix(c.in.channels, 1, 8, 0.5, 2.0);
    bn.bias() = mlp_test::random_matrix(c.in.channels, 1, 9);
    INFO(c.in.str() << ", batch " << c.batch);
    const auto report = mlp_test::check_layer(bn, mlp_test::random_matrix(c.in.size(), c.batch, 10, -2.0, 2.0));
    INFO(report.describe());
    CHECK(report.max_rel_error < c.tolerance);
    CHECK(report.checked == 2 * c.in.channels + c.in.size() * c.batch);
  }
}

TEST_CASE("BatchNorm2d's groups of channels give the bits of one channel at a time, at 1 and 2 threads") {
  // An image's channels go in groups of about 1536 values per sample (detail::channel_group), each
  // pass over a group sample by sample. Every channel must still come out exactly as the layer
  // computed it one channel at a time: each block of pixels summed in float, the block sums added
  // in double in sample order. The reference here does that, channel by channel, with the same
  // expressions; and Eval's affine map. Shapes (groups at 1 thread / at 2): 7, 6 / 3 x 4, 1
  // channels (14 x 14); 15, 15, 10 / 10 x 4 (10 x 10); 9 / 2 x 4, 1 (3 x 3); one channel per group
  // (40 x 40); 9 x 7, 1 (the study's second BatchNorm). Alone (xhat stored) and inside a Sequential
  // (x kept, xhat formed again in backward), there also with a ReLU after it, which the Sequential
  // fuses into it (y = max(., 0), and backward masks dL/dy by y > 0 first).
  struct Case {
    Shape in;
    Index group, group_at_two_threads;
  };
  for (const Case& c : {Case{{13, 14, 14}, 7, 3}, Case{{40, 10, 10}, 15, 10}, Case{{9, 3, 3}, 9, 2},
                        Case{{3, 40, 40}, 1, 1}, Case{{64, 14, 14}, 7, 7}}) {
    const Index C = c.in.channels, P = c.in.pixels(), B = 6;
    CHECK(mlp::detail::channel_group(C, P, 1) == c.group);
    CHECK(mlp::detail::channel_group(C, P, 2) == c.group_at_two_threads);
    const mlp::Matrix<float> x = mlp_test::random_matrix<float>(c.in.size(), B, 31, -3.0, 5.0);
    const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(c.in.size(), B, 32);
    const mlp::Matrix<float> gamma = mlp_test::random_matrix<float>(C, 1, 33, 0.5, 2.0);
    const mlp::Matrix<float> beta = mlp_test::random_matrix<float>(C, 1, 34);
    // The reference, one channel at a time; with a ReLU after the layer, y = max(., 0) and the sums
    // and dL/dx take dL/dy where y > 0 and +0 elsewhere.
    struct Expected {
      mlp::Matrix<float> y, dx, dgamma, dbeta;
    };
    const auto reference = [&](bool relu) {
      Expected e{mlp::Matrix<float>(x.rows(), B), mlp::Matrix<float>(x.rows(), B), mlp::Matrix<float>(C, 1),
                 mlp::Matrix<float>(C, 1)};
      const double n = static_cast<double>(B * P);
      for (Index ch = 0; ch < C; ++ch) {
        double sum = 0.0;
        for (Index s = 0; s < B; ++s) sum += static_cast<double>(x.col(s).segment(ch * P, P).sum());
        const auto mean = static_cast<float>(sum / n);
        double squares = 0.0;
        for (Index s = 0; s < B; ++s) {
          squares += static_cast<double>((x.col(s).segment(ch * P, P).array() - mean).square().sum());
        }
        const auto var = static_cast<float>(squares / n);
        const float inv_std = 1.0f / std::sqrt(var + 1e-5f);
        const auto xhat = [&](Index s) { return (x.col(s).segment(ch * P, P).array() - mean) * inv_std; };
        for (Index s = 0; s < B; ++s) {
          if (relu) {
            e.y.col(s).segment(ch * P, P).array() = (xhat(s) * gamma(ch, 0) + beta(ch, 0)).max(0.0f);
          } else {
            e.y.col(s).segment(ch * P, P).array() = xhat(s) * gamma(ch, 0) + beta(ch, 0);
          }
        }
        mlp::Matrix<float> g = dy;
        if (relu) {
          for (Index i = 0; i < g.size(); ++i) g.data()[i] = e.y.data()[i] > 0.0f ? dy.data()[i] : 0.0f;
        }
        double db = 0.0, dg = 0.0;
        for (Index s = 0; s < B; ++s) db += static_cast<double>(g.col(s).segment(ch * P, P).sum());
        for (Index s = 0; s < B; ++s) dg += static_cast<double>((g.col(s).segment(ch * P, P).array() * xhat(s)).sum());
        e.dbeta(ch, 0) = static_cast<float>(db);
        e.dgamma(ch, 0) = static_cast<float>(dg);
        const float nf = static_cast<float>(B * P), k = gamma(ch, 0) * inv_std / nf;
        for (Index s = 0; s < B; ++s) {
          e.dx.col(s).segment(ch * P, P).array() =
              k * (nf * g.col(s).segment(ch * P, P).array() - e.dbeta(ch, 0) - xhat(s) * e.dgamma(ch, 0));
        }
      }
      return e;
    };
    const Expected plain = reference(false), rectified = reference(true);
    for (const int setup : {0, 1, 2}) {  // alone, kept input, kept input and a fused ReLU
      const bool kept = setup > 0, relu = setup == 2;
      const Expected& expected = relu ? rectified : plain;
      for (const int threads : {1, 2}) {
        INFO(c.in.str() << (kept ? ", inside a Sequential" : ", alone") << (relu ? " with a ReLU" : "") << ", "
                        << threads << " thread(s)");
        const ThreadCount scope(threads);
        // Inside a Sequential, after AvgPool2d(1) (which passes x through exactly), the BatchNorm
        // reads its input again in backward instead of storing xhat.
        mlp::Sequential<float> model(c.in);
        if (kept) model.emplace<mlp::AvgPool2d<float>>(1);
        auto& bn = model.emplace<mlp::BatchNorm2d<float>>(C);
        if (relu) model.emplace<mlp::ReLU<float>>();
        bn.weight() = gamma;
        bn.bias() = beta;
        model.set_input_grad(true);
        CHECK(mlp_test::same_bits(model.forward(x, mlp::Mode::Train), expected.y));
        CHECK(mlp_test::same_bits(model.backward(dy), expected.dx));
        CHECK(mlp_test::same_bits(bn.weight_grad(), expected.dgamma));
        CHECK(mlp_test::same_bits(bn.bias_grad(), expected.dbeta));
        // Eval: y = x scale + shift per channel, from the running statistics this step updated.
        const mlp::Matrix<float> scale = (gamma.array() / mlp::detail::exact_sqrt(bn.running_var().array() + 1e-5f)).matrix();
        const mlp::Matrix<float> shift = (beta.array() - bn.running_mean().array() * scale.array()).matrix();
        mlp::Matrix<float> eval(x.rows(), B);
        for (Index ch = 0; ch < C; ++ch) {
          for (Index s = 0; s < B; ++s) {
            const auto affine = x.col(s).segment(ch * P, P).array() * scale(ch, 0) + shift(ch, 0);
            if (relu) {
              eval.col(s).segment(ch * P, P).array() = affine.max(0.0f);
            } else {
              eval.col(s).segment(ch * P, P).array() = affine;
            }
          }
        }
        CHECK(mlp_test::same_bits(model.forward(x, mlp::Mode::Eval), eval));
      }
    }
  }
}

TEST_CASE("BatchNorm2d Eval uses the running statistics per channel and leaves them byte-identical") {
  mlp::BatchNorm2d<float> bn(2);
  bn.bind(Shape{2, 3, 3});
  for (int step = 0; step < 3; ++step) {
    bn.forward(mlp_test::random_matrix<float>(18, 6, 40 + static_cast<std::uint64_t>(step), 0.0, 4.0), mlp::Mode::Train);
  }
  bn.weight() << 1.5f, -0.5f;
  bn.bias() << 0.25f, 1.0f;
  const mlp::Matrix<float> mean = bn.running_mean(), var = bn.running_var();
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(18, 5, 77, -3.0, 3.0);
  const mlp::Matrix<float> y = bn.forward(x, mlp::Mode::Eval);
  CHECK(std::memcmp(mean.data(), bn.running_mean().data(), 2 * sizeof(float)) == 0);
  CHECK(std::memcmp(var.data(), bn.running_var().data(), 2 * sizeof(float)) == 0);
  for (Index i = 0; i < 18; ++i) {
    const Index c = i / 9;
    for (Index s = 0; s < 5; ++s) {
      const float expected = bn.weight()(c, 0) * (x(i, s) - mean(c, 0)) / std::sqrt(var(c, 0) + 1e-5f) + bn.bias()(c, 0);
      CHECK(static_cast<double>(y(i, s)) == doctest::Approx(static_cast<double>(expected)).epsilon(1e-5));
    }
  }
}

TEST_CASE("BatchNorm2d on 1 x 1 images agrees with BatchNorm1d, and statistics over pixels are per channel") {
  mlp::BatchNorm2d<double> bn2(4);
  bn2.bind(Shape{4, 1, 1});
  mlp::BatchNorm1d<double> bn1(4);
  const MatrixD x = mlp_test::random_matrix(4, 6, 3, -2.0, 2.0), dy = mlp_test::random_matrix(4, 6, 4);
  CHECK((bn2.forward(x, mlp::Mode::Train) - bn1.forward(x, mlp::Mode::Train)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((bn2.backward(dy) - bn1.backward(dy)).cwiseAbs().maxCoeff() < 1e-14);
  // Each channel of the output has mean 0 and biased variance 1 over the batch and its pixels
  // (gamma 1, beta 0).
  mlp::BatchNorm2d<double> bn(3);
  bn.bind(Shape{3, 4, 2});
  const MatrixD& y = bn.forward(mlp_test::random_matrix(24, 5, 6, -1.0, 3.0), mlp::Mode::Train);
  for (Index c = 0; c < 3; ++c) {
    double sum = 0.0, squares = 0.0;
    for (Index s = 0; s < 5; ++s) {
      sum += y.col(s).segment(c * 8, 8).sum();
      squares += y.col(s).segment(c * 8, 8).squaredNorm();
    }
    CHECK(std::abs(sum / 40.0) < 1e-12);
    CHECK(squares / 40.0 == doctest::Approx(1.0).epsilon(1e-3));  // var / (var + eps)
  }
}

TEST_CASE("BatchNorm2d rejects an input with another number of channels, naming both") {
  mlp::BatchNorm2d<float> bn(32);
  CHECK_THROWS_WITH_AS(bn.bind(Shape{16, 14, 14}), "BatchNorm2d(32) needs 32 channels, but its input is 16 x 14 x 14",
                       mlp::InvalidArgument);
  bn.bind(Shape{32, 1, 1});
  CHECK_THROWS_WITH_AS(bn.forward(mlp::Matrix<float>::Ones(32, 1), mlp::Mode::Train),
                       doctest::Contains("BatchNorm2d(32) in Train mode needs more than 1 value per channel, but got "
                                         "a batch of 1 sample(s) of 32 features"),
                       mlp::InvalidArgument);
  bn.bind(Shape{32, 2, 2});
  CHECK(bn.forward(mlp::Matrix<float>::Ones(128, 1), mlp::Mode::Train).allFinite());  // 4 values per channel
}
