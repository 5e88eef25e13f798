// Sequential's fusion of a ReLU into the BatchNorm before it (Sequential::set_fuse_relu): the same
// bits as the layers computed one by one, forward and backward, in float and double, BatchNorm1d
// and BatchNorm2d; where it does not apply; the per-layer steps; and the messages when a fused
// pair's layers are driven on their own.
#include "helpers.hpp"

#include <mlp/mlp.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using mlp::Index;
using mlp::Shape;

// Conv2d - BatchNorm2d - ReLU - MaxPool2d(pool) - Flatten - Linear - BatchNorm1d - ReLU - Linear:
// two pairs that fuse; with the 2 x 2 pool (pool 2) the BatchNorm2d also hands its planes to the
// pool, with a 3 x 3 one (pool 3) the pool masks for the ReLU instead. BatchNorm2d's weight and
// bias are moved off 1 and 0 so that the ReLU cuts.
template <class S>
mlp::Sequential<S> fusable(std::uint64_t seed, Index pool = 2) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape{2, 6, 6});
  model.template emplace<mlp::Conv2d<S>>(2, 3, 3, rng, mlp::Conv2dOptions{1, 1});
  auto& bn = model.template emplace<mlp::BatchNorm2d<S>>(3);
  bn.weight() << S(0.5), S(-1.5), S(2);
  bn.bias() << S(0.25), S(0.5), S(-0.75);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::MaxPool2d<S>>(pool);
  model.template emplace<mlp::Flatten<S>>();
  model.template emplace<mlp::Linear<S>>(3 * (6 / pool) * (6 / pool), 7, rng);
  model.template emplace<mlp::BatchNorm1d<S>>(7);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::Linear<S>>(7, 4, rng);
  model.set_input_grad(true);
  return model;
}

// The model's output, dL/dx and every parameter gradient after each of two Train steps of `batch`
// samples, then an Eval forward and the running statistics, as one list of matrices (inputs of
// `in` values, outputs of `out_rows`).
template <class S>
std::vector<mlp::Matrix<S>> run(mlp::Sequential<S>& model, Index in = 72, Index out_rows = 4, Index batch = 10) {
  std::vector<mlp::Matrix<S>> out;
  for (std::uint64_t step = 0; step < 2; ++step) {
    const mlp::Matrix<S> x = mlp_test::random_matrix<S>(in, batch, 30 + step, -2.0, 2.0);
    out.push_back(model.forward(x, mlp::Mode::Train));
    const mlp::Matrix<S> dy = mlp_test::random_matrix<S>(out_rows, batch, 40 + step);
    out.push_back(model.backward(dy));
    for (auto& p : model.parameters()) out.emplace_back(p.grad_map());
  }
  out.push_back(model.forward(mlp_test::random_matrix<S>(in, 5, 50, -2.0, 2.0), mlp::Mode::Eval));
  for (auto& b : model.buffers()) out.emplace_back(b.value_map());
  return out;
}

// Every parameter gradient of the two models, bit for bit.
template <class S>
void check_same_gradients(mlp::Sequential<S>& a, mlp::Sequential<S>& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].name);
    CHECK(mlp_test::same_bits(mlp::Matrix<S>(pa[i].grad_map()), mlp::Matrix<S>(pb[i].grad_map())));
  }
}

// backward_layer from the model's last layer down to layer `last`, starting from g: what layer
// `last` returned.
template <class S>
const mlp::Matrix<S>& backward_down_to(mlp::Sequential<S>& model, const mlp::Matrix<S>& g, std::size_t last) {
  const mlp::Matrix<S>* down = &g;
  for (std::size_t i = model.size(); i-- > last;) down = &model.backward_layer(i, *down);
  return *down;
}

template <class S>
void check_same_bits(Index pool) {
  mlp::Sequential<S> fused = fusable<S>(7, pool), plain = fusable<S>(7, pool);
  CHECK(fused.fuse_relu());
  plain.set_fuse_relu(false);
  const auto a = run(fused), b = run(plain);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("matrix " << i);
    CHECK(a[i] == b[i]);
  }
}

}  // namespace

TEST_CASE("a ReLU fused into the BatchNorm before it gives the bits of the layers one by one") {
  for (const Index pool : {2, 3}) {  // planes handed on to the pool, or not
    INFO("pool " << pool);
    for (const int threads : {1, 2}) {
      INFO("threads " << threads);
      const mlp_test::ThreadCount scope(threads);
      check_same_bits<float>(pool);
      check_same_bits<double>(pool);
    }
  }
}

TEST_CASE("a NaN in a fused BatchNorm's output shows at the BatchNorm, as without fusion") {
  // ReLU keeps a NaN (max(NaN, 0) is NaN), so first_non_finite_output() names the BatchNorm.
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 6, 8, -2.0, 2.0);
  for (const bool fuse : {true, false}) {
    INFO("fusion " << fuse);
    mlp::Sequential<float> model = fusable<float>(3);
    model.set_fuse_relu(fuse);
    model.forward(x, mlp::Mode::Train);
    CHECK(model.first_non_finite_output() == -1);
    model.parameters()[2].value[1] = std::numeric_limits<float>::quiet_NaN();  // "1.weight", channel 1
    model.forward(x, mlp::Mode::Train);
    CHECK(model.first_non_finite_output() == 1);
  }
}

TEST_CASE("fusion leaves a ReLU that ends the model, and one after a layer that cannot apply it, to themselves") {
  mlp::Rng rng(4);
  mlp::Sequential<double> model(Shape::flat(5));
  model.emplace<mlp::Linear<double>>(5, 6, rng);
  model.emplace<mlp::Tanh<double>>();
  model.emplace<mlp::ReLU<double>>();  // after a Tanh: not fused
  model.emplace<mlp::BatchNorm1d<double>>(6);
  model.emplace<mlp::ReLU<double>>();  // the last layer: not fused (backward starts there)
  const mlp_test::MatrixD x = mlp_test::random_matrix(5, 8, 9);
  model.forward(x, mlp::Mode::Train);
  const mlp_test::MatrixD dy = mlp_test::random_matrix(6, 8, 10);
  model.backward(dy);
  // Every layer was computed on its own, so each one's own backward is still allowed.
  CHECK_NOTHROW(model[4].backward(dy));
  CHECK_NOTHROW(model[3].backward(model[4].backward(dy)));
  CHECK_NOTHROW(model[2].backward(model[3].backward(model[4].backward(dy))));
}

namespace {

// Linear - ReLU - Linear - ReLU - Linear - [BatchNorm1d -] ReLU - Linear: every Linear before a ReLU
// applies it as its product finishes each element; the Linears after a fused ReLU mask their dL/dx
// for it the same way (the middle ones do both), so the fused Linear before trusts it. Sizes that
// leave partial tiles, products large enough to be split between threads, random biases.
template <class S>
mlp::Sequential<S> linear_chain(std::uint64_t seed, bool batch_norm) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape::flat(50));
  model.template emplace<mlp::Linear<S>>(50, 300, rng);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::Linear<S>>(300, 257, rng);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::Linear<S>>(257, 33, rng);
  if (batch_norm) model.template emplace<mlp::BatchNorm1d<S>>(33);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::Linear<S>>(33, 5, rng);
  for (auto& p : model.parameters()) {
    if (p.name.find("bias") != std::string::npos) p.value_map() = mlp_test::random_matrix<S>(p.rows, p.cols, seed + 1);
  }
  model.set_input_grad(true);
  return model;
}

template <class S>
void check_chain(bool batch_norm, mlp::MatmulPrecision precision) {
  mlp::Sequential<S> fused = linear_chain<S>(11, batch_norm), plain = linear_chain<S>(11, batch_norm);
  fused.set_matmul_precision(precision);
  plain.set_matmul_precision(precision);
  plain.set_fuse_relu(false);
  const auto a = run(fused, 50, 5, 70), b = run(plain, 50, 5, 70);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("matrix " << i);
    CHECK(mlp_test::same_bits(a[i], b[i]));
  }
}

}  // namespace

TEST_CASE("a ReLU fused into the Linear before it, and a Linear masking for the ReLU before it, give the bits of the layers one by one") {
  for (const bool batch_norm : {false, true}) {
    INFO("batch norm " << batch_norm);
    for (const int threads : {1, 2}) {
      INFO("threads " << threads);
      const mlp_test::ThreadCount scope(threads);
      check_chain<float>(batch_norm, mlp::MatmulPrecision::Float32);
      check_chain<float>(batch_norm, mlp::MatmulPrecision::BFloat16);
      check_chain<double>(batch_norm, mlp::MatmulPrecision::Float32);
    }
  }
}

TEST_CASE("a NaN in a fused Linear's output shows at the Linear, as without fusion") {
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(50, 6, 8, -2.0, 2.0);
  for (const bool fuse : {true, false}) {
    INFO("fusion " << fuse);
    mlp::Sequential<float> model = linear_chain<float>(3, false);
    model.set_fuse_relu(fuse);
    model.forward(x, mlp::Mode::Train);
    CHECK(model.first_non_finite_output() == -1);
    model[2].parameters()[0].value[7] = std::numeric_limits<float>::quiet_NaN();  // a weight of the second Linear
    model.forward(x, mlp::Mode::Train);
    CHECK(model.first_non_finite_output() == 2);
  }
}

TEST_CASE("a fused pair's layers refuse their own backward, and forward_layer takes only the previous output") {
  mlp::Sequential<float> model = fusable<float>(5);
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 4, 8);
  model.forward(x, mlp::Mode::Train);
  const mlp::Matrix<float> dy = mlp::Matrix<float>::Ones(108, 4);
  CHECK_THROWS_WITH_AS(model[1].backward(dy),
                       "BatchNorm2d(3): the last forward also applied the ReLU after this layer (fused by a "
                       "Sequential), so backward has to go through the Sequential too",
                       mlp::RuntimeError);
  CHECK_THROWS_WITH_AS(model[2].backward(dy),
                       "ReLU: backward needs a forward in Train mode of the same batch just before it, but the "
                       "last forward was computed by the layer before it (a ReLU fused into it by a Sequential), "
                       "so backward has to go through the Sequential too",
                       mlp::RuntimeError);
  // Used on its own again, each layer computes (and may backpropagate) by itself.
  const mlp::Matrix<float>& h = model[1].forward(mlp::Matrix<float>(model[0].forward(x, mlp::Mode::Train)), mlp::Mode::Train);
  CHECK(h.minCoeff() < 0.0F);  // no ReLU applied
  CHECK_NOTHROW(model[1].backward(dy));

  // The per-layer steps do what forward() and backward() do, fusion included.
  mlp::Sequential<float> stepped = fusable<float>(5), whole = fusable<float>(5);
  const mlp::Matrix<float>* h1 = &stepped.forward_layer(0, x, mlp::Mode::Train);
  for (std::size_t i = 1; i < stepped.size(); ++i) h1 = &stepped.forward_layer(i, *h1, mlp::Mode::Train);
  CHECK(*h1 == whole.forward(x, mlp::Mode::Train));
  const mlp::Matrix<float> g = mlp_test::random_matrix<float>(4, 4, 12);
  CHECK(backward_down_to(stepped, g, 0) == whole.backward(g));
  CHECK_THROWS_WITH_AS(stepped.forward_layer(3, x, mlp::Mode::Train),
                       "Sequential::forward_layer(3) takes what forward_layer(2) returned, right after it",
                       mlp::InvalidArgument);
  // A layer skipped: layer 1's output from the pass before does not count.
  const mlp::Matrix<float>& first = stepped.forward_layer(0, x, mlp::Mode::Train);
  CHECK_THROWS_AS(stepped.forward_layer(2, first, mlp::Mode::Train), mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(stepped.forward_layer(9, x, mlp::Mode::Train),
                       "Sequential::forward_layer(9) of a model of 9 layers", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(stepped.backward_layer(9, g), "Sequential::backward_layer(9) of a model of 9 layers",
                       mlp::InvalidArgument);
}

TEST_CASE("backward follows the fusion its forward chose, and a layer's own forward in between is named") {
  mlp::Sequential<float> model = fusable<float>(6), plain = fusable<float>(6);
  plain.set_fuse_relu(false);
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 5, 13);
  const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(4, 5, 14);
  model.forward(x, mlp::Mode::Train);
  model.set_fuse_relu(false);  // after the forward: its backward is still the fused one
  plain.forward(x, mlp::Mode::Train);
  CHECK(model.backward(dy) == plain.backward(dy));
  model.set_fuse_relu(true);
  model.forward(x, mlp::Mode::Train);
  model[2].forward(model[1].forward(mlp::Matrix<float>(model[0].forward(x, mlp::Mode::Train)), mlp::Mode::Train),
                   mlp::Mode::Train);
  CHECK_THROWS_WITH_AS(model.backward(dy),
                       "ReLU: backward needs a forward in Train mode of the same batch just before it, but the last "
                       "forward was the layer's own, not the Sequential's (the Sequential's backward follows the "
                       "Sequential's forward)",
                       mlp::RuntimeError);
}

TEST_CASE("a -infinity that a fused ReLU turns into 0 no longer shows in the BatchNorm's recorded output") {
  // What the documentation says: the fused BatchNorm's recorded output is the ReLU's.
  mlp::Rng rng(2);
  mlp::Sequential<float> model(Shape::flat(3));
  model.emplace<mlp::Linear<float>>(3, 2, rng);
  auto& bn = model.emplace<mlp::BatchNorm1d<float>>(2);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::Linear<float>>(2, 2, rng);
  bn.bias()(0, 0) = -std::numeric_limits<float>::infinity();  // y = -inf in channel 0
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(3, 4, 3);
  model.forward(x, mlp::Mode::Train);
  const int fused_first = model.first_non_finite_output();
  model.set_fuse_relu(false);
  model.forward(x, mlp::Mode::Train);
  CHECK(model.first_non_finite_output() == 1);
  CHECK(fused_first != 1);
}

namespace {

// BatchNorm2d - ReLU - MaxPool2d(3, stride 2, padding 1): overlapping windows, so a pixel can be
// the maximum of several and collect several terms - Flatten - Linear.
template <class S>
mlp::Sequential<S> overlapping_pool(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape{3, 7, 6});
  auto& bn = model.template emplace<mlp::BatchNorm2d<S>>(3);
  bn.weight() << S(0.5), S(-1.5), S(2);
  bn.bias() << S(-0.5), S(0.5), S(-1.75);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::MaxPool2d<S>>(mlp::Size2(3), mlp::Size2(2), mlp::Size2(1));
  model.template emplace<mlp::Flatten<S>>();
  model.template emplace<mlp::Linear<S>>(model.output_shape().size(), 3, rng);
  model.set_input_grad(true);
  return model;
}

template <class S>
void check_masked_pool_bits() {
  mlp::Sequential<S> fused = overlapping_pool<S>(3), plain = overlapping_pool<S>(3);
  plain.set_fuse_relu(false);
  for (std::uint64_t step = 0; step < 2; ++step) {
    INFO("step " << step);
    mlp::Matrix<S> x = mlp_test::random_matrix<S>(126, 6, 60 + step, -2.0, 2.0);
    if (step == 1) x(5, 2) = std::numeric_limits<S>::quiet_NaN();  // a NaN through one channel's statistics
    CHECK(mlp_test::same_bits(fused.forward(x, mlp::Mode::Train), plain.forward(x, mlp::Mode::Train)));
    // The test would be blind to a pool that does not mask unless some windows are all cut to 0.
    const mlp::Matrix<S> pooled = fused[2].forward(fused[1].forward(fused[0].forward(x, mlp::Mode::Train), mlp::Mode::Train), mlp::Mode::Train);
    CHECK((pooled.array() == S(0)).any());
    fused.forward(x, mlp::Mode::Train);
    const mlp::Matrix<S> dy = mlp_test::random_matrix<S>(3, 6, 70 + step);
    const mlp::Matrix<S> dx = fused.backward(dy);
    CHECK(mlp_test::same_bits(dx, plain.backward(dy)));
    if (step == 0) CHECK(dx.cwiseAbs().maxCoeff() > S(0));
    check_same_gradients(fused, plain);
  }
}

// A user's layer that can mask for a ReLU before it: y = x; dx = dy, or (x > 0 ? dy : 0) when asked.
// It records what it was asked.
template <class S>
class MaskingIdentity final : public mlp::Layer<S> {
 public:
  std::string_view kind() const override { return "MaskingIdentity"; }
  mlp::LayerConfig config() const override { return {}; }
  bool can_mask_relu_gradient() const override { return true; }
  int masked_backwards = 0, plain_backwards = 0;

 protected:
  const mlp::Matrix<S>& forward_impl(const Eigen::Ref<const mlp::Matrix<S>>& x, mlp::Mode) override {
    y_ = x;
    return y_;
  }
  const mlp::Matrix<S>& backward_impl(const Eigen::Ref<const mlp::Matrix<S>>& dy) override {
    if (this->relu_masking()) {
      ++masked_backwards;
      dx_ = (y_.array() > S(0)).select(dy, mlp::Matrix<S>::Zero(dy.rows(), dy.cols()));
    } else {
      ++plain_backwards;
      dx_ = dy;
    }
    return dx_;
  }

 private:
  mlp::Matrix<S> y_, dx_;
};

// Linear - BatchNorm1d - ReLU - MaskingIdentity (after a fused pair) - ReLU (not fused: after a layer
// that cannot apply it) - MaskingIdentity - Linear.
void build_masking_model(mlp::Sequential<double>& model) {
  mlp::Rng rng(8);
  model.emplace<mlp::Linear<double>>(4, 5, rng);
  auto& bn = model.emplace<mlp::BatchNorm1d<double>>(5);
  bn.bias() << -0.5, 0.5, -1.0, 0.25, 0.0;
  model.emplace<mlp::ReLU<double>>();
  model.emplace<MaskingIdentity<double>>();
  model.emplace<mlp::ReLU<double>>();
  model.emplace<MaskingIdentity<double>>();
  model.emplace<mlp::Linear<double>>(5, 2, rng);
  model.set_input_grad(true);
}

}  // namespace

TEST_CASE("a MaxPool2d after a fused BatchNorm2d + ReLU masks dL/dx for the ReLU: the same bits, windows overlapping") {
  check_masked_pool_bits<float>();
  check_masked_pool_bits<double>();
}

TEST_CASE("a 2 x 2 MaxPool2d after a fused BatchNorm2d + ReLU masks dL/dx for the ReLU: the same bits at every row width") {
  // The usual pool has a backward of its own that writes each window once, in padded runs of 8 or
  // 16 outputs (detail/max_pool_kernels.hpp): output rows of 1, 7, 8, 14 and 20 values.
  for (const Shape in : {Shape{3, 2, 2}, Shape{3, 4, 14}, Shape{2, 6, 16}, Shape{3, 2, 28}, Shape{2, 4, 40}}) {
    INFO("input " << in.str());
    const auto build = [&](mlp::Sequential<float>& model) {
      mlp::Rng rng(8);
      auto& bn = model.emplace<mlp::BatchNorm2d<float>>(in.channels);
      bn.weight().col(0).setLinSpaced(0.5f, -1.5f);
      bn.bias().col(0).setLinSpaced(-0.5f, 0.25f);
      model.emplace<mlp::ReLU<float>>();
      model.emplace<mlp::MaxPool2d<float>>(2);
      model.emplace<mlp::Flatten<float>>();
      model.emplace<mlp::Linear<float>>(model.output_shape().size(), 3, rng);
      model.set_input_grad(true);
    };
    mlp::Sequential<float> fused(in), plain(in);
    build(fused);
    build(plain);
    plain.set_fuse_relu(false);
    const mlp::Matrix<float> x = mlp_test::random_matrix<float>(in.size(), 5, 61, -2.0, 2.0);
    // Blind unless some windows are all cut to 0 by the ReLU.
    const mlp::Matrix<float> pooled =
        fused[2].forward(fused[1].forward(fused[0].forward(x, mlp::Mode::Train), mlp::Mode::Train), mlp::Mode::Train);
    CHECK((pooled.array() == 0.0f).any());
    CHECK(mlp_test::same_bits(fused.forward(x, mlp::Mode::Train), plain.forward(x, mlp::Mode::Train)));
    const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(3, 5, 71);
    const mlp::Matrix<float> dx = fused.backward(dy);
    CHECK(mlp_test::same_bits(dx, plain.backward(dy)));
    CHECK(dx.cwiseAbs().maxCoeff() > 0.0f);
  }
}

TEST_CASE("a user's layer after a fused pair is asked to mask for the ReLU, and only there") {
  mlp::Sequential<double> model(Shape::flat(4)), plain(Shape::flat(4));
  build_masking_model(model);
  build_masking_model(plain);
  plain.set_fuse_relu(false);
  auto& after_fused = dynamic_cast<MaskingIdentity<double>&>(model[3]);
  auto& after_plain = dynamic_cast<MaskingIdentity<double>&>(model[5]);
  const mlp_test::MatrixD x = mlp_test::random_matrix(4, 7, 21), dy = mlp_test::random_matrix(2, 7, 22);
  model.forward(x, mlp::Mode::Train);
  plain.forward(x, mlp::Mode::Train);
  CHECK(mlp_test::same_bits(model.backward(dy), plain.backward(dy)));
  CHECK(after_fused.masked_backwards == 1);
  CHECK(after_fused.plain_backwards == 0);
  CHECK(after_plain.masked_backwards == 0);
  CHECK(after_plain.plain_backwards == 1);
  // Fusion off: nobody is asked.
  model.set_fuse_relu(false);
  model.forward(x, mlp::Mode::Train);
  model.backward(dy);
  CHECK(after_fused.masked_backwards == 1);
  CHECK(after_fused.plain_backwards == 1);
}

TEST_CASE("a fused BatchNorm masks by itself when backward_layer hands it a dL/dy the pool did not mask") {
  // With the 2 x 2 pool the BatchNorm handed its planes on and never wrote the output the mask
  // reads: it computes it again.
  for (const Index pool : {2, 3}) {
  INFO("pool " << pool);
  mlp::Sequential<float> fused = fusable<float>(9, pool), plain = fusable<float>(9, pool);
  plain.set_fuse_relu(false);
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 6, 23), g = mlp_test::random_matrix<float>(4, 6, 24);
  fused.forward(x, mlp::Mode::Train);
  plain.forward(x, mlp::Mode::Train);
  // Down to the pool (layer 3) in both; the fused model's pool masked its dL/dx, the plain one's not.
  const mlp::Matrix<float>& a = backward_down_to(fused, g, 3);
  const mlp::Matrix<float>& b = backward_down_to(plain, g, 3);
  CHECK(a != b);  // the mask cut something
  // The pool's unmasked dL/dx, handed to the fused pair by hand: the BatchNorm must mask it (its
  // dL/dx is given to the Conv2d before it a sample at a time, see below).
  const mlp::Matrix<float> unmasked = b;
  const mlp::Matrix<float>& through_relu = fused.backward_layer(2, unmasked);
  const mlp::Matrix<float> expected = plain.backward_layer(0, plain.backward_layer(1, plain.backward_layer(2, b)));
  CHECK(mlp_test::same_bits(mlp::Matrix<float>(fused.backward_layer(0, fused.backward_layer(1, through_relu))),
                            expected));
  }
}

TEST_CASE("the pool's own backward in between ends the BatchNorm's trust in its masked dL/dx") {
  for (const Index pool : {2, 3}) {
  INFO("pool " << pool);
  mlp::Sequential<float> fused = fusable<float>(11, pool), plain = fusable<float>(11, pool);
  plain.set_fuse_relu(false);
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 6, 25), g = mlp_test::random_matrix<float>(4, 6, 26);
  fused.forward(x, mlp::Mode::Train);
  plain.forward(x, mlp::Mode::Train);
  const mlp::Matrix<float>& a = backward_down_to(fused, g, 4);
  const mlp::Matrix<float>& b = backward_down_to(plain, g, 4);
  const mlp::Matrix<float> into_pool = a;
  fused.backward_layer(3, into_pool);  // masked, into the pool's dL/dx buffer
  // The pool's own backward writes the same buffer again, unmasked.
  const mlp::Matrix<float>& unmasked = fused[3].backward(into_pool);
  const mlp::Matrix<float> expected =
      plain.backward_layer(0, plain.backward_layer(1, plain.backward_layer(2, plain.backward_layer(3, b))));
  CHECK(mlp_test::same_bits(
      mlp::Matrix<float>(fused.backward_layer(0, fused.backward_layer(1, fused.backward_layer(2, unmasked)))),
      expected));
  }
}

namespace {

// A user's layer that takes planes: y = x, computed from the planes it is handed when a
// Sequential arranges that; dx = dy, masked for a ReLU before when asked. It records which
// channels of which samples it was handed.
template <class S>
class PlaneCopy final : public mlp::Layer<S> {
 public:
  std::string_view kind() const override { return "PlaneCopy"; }
  bool can_mask_relu_gradient() const override { return true; }
  bool can_take_planes() const override { return true; }
  mlp::Matrix<int> handed;  // channels x samples: times handed

 protected:
  const mlp::Matrix<S>& begin_planes(Index batch) override {
    y_.resize(this->input_shape().size(), batch);
    handed.setZero(this->input_shape().channels, batch);
    return y_;
  }
  void take_planes(Index sample, Index first, Index count, const S* planes) override {
    const Index pixels = this->input_shape().pixels();
    y_.col(sample).segment(first * pixels, count * pixels) =
        Eigen::Map<const mlp::Matrix<S>>(planes, count * pixels, 1);
    handed.col(sample).segment(first, count).array() += 1;
  }
  const mlp::Matrix<S>& forward_impl(const Eigen::Ref<const mlp::Matrix<S>>& x, mlp::Mode) override {
    y_ = x;
    return y_;
  }
  const mlp::Matrix<S>& backward_impl(const Eigen::Ref<const mlp::Matrix<S>>& dy) override {
    dx_ = this->relu_masking() ? mlp::Matrix<S>((y_.array() > S(0)).select(dy, S(0))) : mlp::Matrix<S>(dy);
    return dx_;
  }

 private:
  mlp::Matrix<S> y_, dx_;
};

// A BatchNorm2d whose gamma and beta are moved off 1 and 0 so that the ReLU after it cuts, and
// that ReLU.
template <class S>
void add_batch_norm_relu(mlp::Sequential<S>& model, Index channels) {
  auto& bn = model.template emplace<mlp::BatchNorm2d<S>>(channels);
  bn.weight().col(0).setLinSpaced(S(0.5), S(-1.5));
  bn.bias().col(0).setLinSpaced(S(-0.5), S(0.25));
  model.template emplace<mlp::ReLU<S>>();
}

// BatchNorm2d (first: it stores xhat, its input is not kept) - ReLU - PlaneCopy - Flatten - Linear.
template <class S>
mlp::Sequential<S> copying(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape{5, 3, 4});
  add_batch_norm_relu(model, 5);
  model.template emplace<PlaneCopy<S>>();
  model.template emplace<mlp::Flatten<S>>();
  model.template emplace<mlp::Linear<S>>(60, 3, rng);
  model.set_input_grad(true);
  return model;
}

}  // namespace

TEST_CASE("a user's layer after a fused BatchNorm2d + ReLU is handed each sample's channels once, same bits") {
  for (const int threads : {1, 2}) {
    INFO("threads " << threads);
    const mlp_test::ThreadCount scope(threads);
    mlp::Sequential<double> fused = copying<double>(4), plain = copying<double>(4);
    plain.set_fuse_relu(false);
    auto& taker = dynamic_cast<PlaneCopy<double>&>(fused[2]);
    const mlp_test::MatrixD x = mlp_test::random_matrix(60, 7, 31, -2.0, 2.0), g = mlp_test::random_matrix(3, 7, 32);
    for (const mlp::Mode mode : {mlp::Mode::Eval, mlp::Mode::Train}) {
      CHECK(mlp_test::same_bits(fused.forward(x, mode), plain.forward(x, mode)));
      CHECK(taker.handed.size() == 35);
      CHECK((taker.handed.array() == 1).all());
    }
    CHECK(mlp_test::same_bits(fused.backward(g), plain.backward(g)));
    check_same_gradients(fused, plain);
    // By hand, a dL/dy the taker did not mask: the BatchNorm computes its output again, from the
    // xhat it stored (its input, the caller's, was not kept).
    fused.forward(x, mlp::Mode::Train);
    plain.forward(x, mlp::Mode::Train);
    backward_down_to(fused, g, 3);
    const mlp_test::MatrixD unmasked = plain.backward_layer(2, backward_down_to(plain, g, 3));
    const mlp_test::MatrixD expected = plain.backward_layer(0, plain.backward_layer(1, unmasked));
    CHECK(mlp_test::same_bits(mlp_test::MatrixD(fused.backward_layer(0, fused.backward_layer(1, unmasked))), expected));
  }
}

namespace {

// A user's layer that takes dL/dy by samples: y = x, dx = dy, reading dy a sample at a time and
// pulling each from the layer after it when a Sequential arranges that. It counts the pulls.
template <class S>
class SampleCopy final : public mlp::Layer<S> {
 public:
  std::string_view kind() const override { return "SampleCopy"; }
  bool can_take_samples() const override { return true; }
  Index pulled = 0;
  bool forget_to_pull = false;  // misuse: reads dy as it is while pulls_samples() is true

 protected:
  const mlp::Matrix<S>& forward_impl(const Eigen::Ref<const mlp::Matrix<S>>& x, mlp::Mode) override {
    y_ = x;
    return y_;
  }
  const mlp::Matrix<S>& backward_impl(const Eigen::Ref<const mlp::Matrix<S>>& dy) override {
    dx_.resize(dy.rows(), dy.cols());
    for (Index s = 0; s < dy.cols(); ++s) {
      if (this->pulls_samples() && !forget_to_pull) {
        this->pull_sample(s, dx_.col(s).data());
        ++pulled;
      } else {
        dx_.col(s) = dy.col(s);
      }
    }
    return dx_;
  }

 private:
  mlp::Matrix<S> y_, dx_;
};

// SampleCopy - BatchNorm2d - ReLU - MaxPool2d(2) - Flatten - Linear, or with a Conv2d that computes
// one sample at a time first.
template <class S>
mlp::Sequential<S> giving(std::uint64_t seed, bool conv) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape{3, 4, 6});
  if (conv) {
    model.template emplace<mlp::Conv2d<S>>(3, 4, 3, rng, mlp::Conv2dOptions{1, 1});
  } else {
    model.template emplace<SampleCopy<S>>();
  }
  const Index channels = conv ? 4 : 3;
  add_batch_norm_relu(model, channels);
  model.template emplace<mlp::MaxPool2d<S>>(2);
  model.template emplace<mlp::Flatten<S>>();
  model.template emplace<mlp::Linear<S>>(channels * 6, 3, rng);
  model.set_input_grad(true);
  return model;
}

}  // namespace

TEST_CASE("a BatchNorm2d gives dL/dx a sample at a time to the layer before it that reads it so, same bits") {
  for (const int threads : {1, 2}) {
    INFO("threads " << threads);
    const mlp_test::ThreadCount scope(threads);
    mlp::Sequential<double> fused = giving<double>(5, false), plain = giving<double>(5, false);
    plain.set_fuse_relu(false);
    auto& taker = dynamic_cast<SampleCopy<double>&>(fused[0]);
    auto& not_taker = dynamic_cast<SampleCopy<double>&>(plain[0]);
    const mlp_test::MatrixD x = mlp_test::random_matrix(72, 7, 33, -2.0, 2.0), g = mlp_test::random_matrix(3, 7, 34);
    CHECK(mlp_test::same_bits(fused.forward(x, mlp::Mode::Train), plain.forward(x, mlp::Mode::Train)));
    CHECK(mlp_test::same_bits(fused.backward(g), plain.backward(g)));
    CHECK(taker.pulled == 7);
    CHECK(not_taker.pulled == 0);
    check_same_gradients(fused, plain);
    // By hand: what the BatchNorm's backward_layer returns is pulled from only by the layer before
    // it; handed a copy of it (here the plain model's dL/dx, the same values), the layer reads it.
    fused.forward(x, mlp::Mode::Train);
    plain.forward(x, mlp::Mode::Train);
    const mlp_test::MatrixD& down_fused = backward_down_to(fused, g, 1);
    const mlp_test::MatrixD& down_plain = backward_down_to(plain, g, 1);
    const mlp_test::MatrixD copy = down_plain;
    const mlp_test::MatrixD expected = plain.backward_layer(0, down_plain);
    CHECK(mlp_test::same_bits(mlp_test::MatrixD(fused.backward_layer(0, copy)), expected));
    CHECK(taker.pulled == 7);  // not pulled: the copy was read
    // The BatchNorm's unwritten dL/dx, while the BatchNorm has run nothing since: pulled again.
    CHECK(mlp_test::same_bits(fused.backward_layer(0, down_fused), expected));
    CHECK(taker.pulled == 14);
  }
}

TEST_CASE("a layer that says it takes dL/dy by samples and does not pull them fails loudly") {
  mlp::Sequential<double> model = giving<double>(5, false);
  auto& taker = dynamic_cast<SampleCopy<double>&>(model[0]);
  taker.forget_to_pull = true;
  model.forward(mlp_test::random_matrix(72, 4, 33), mlp::Mode::Train);
  CHECK_THROWS_WITH_AS(model.backward(mlp_test::random_matrix(3, 4, 34)),
                       doctest::Contains("SampleCopy says it takes dL/dy by samples (can_take_samples()), but its "
                                         "backward pulled 0 for a batch of 4 from BatchNorm2d(3)"),
                       mlp::RuntimeError);
  taker.forget_to_pull = false;
  model.forward(mlp_test::random_matrix(72, 4, 33), mlp::Mode::Train);
  CHECK_NOTHROW(model.backward(mlp_test::random_matrix(3, 4, 34)));
  CHECK(taker.pulled == 4);
}

TEST_CASE("a first Conv2d that computes one sample at a time pulls dL/dy from the BatchNorm2d after it, same bits") {
  for (const int threads : {1, 2}) {
    INFO("threads " << threads);
    const mlp_test::ThreadCount scope(threads);
    for (const bool input_grad : {true, false}) {
      INFO("input grad " << input_grad);
      mlp::Sequential<float> fused = giving<float>(6, true), plain = giving<float>(6, true);
      fused.set_input_grad(input_grad);
      plain.set_input_grad(input_grad);
      plain.set_fuse_relu(false);
      REQUIRE(dynamic_cast<mlp::Conv2d<float>&>(fused[0]).method() == mlp::ConvMethod::PerSample);
      for (std::uint64_t step = 0; step < 2; ++step) {
        const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 9, 35 + step, -2.0, 2.0);
        const mlp::Matrix<float> g = mlp_test::random_matrix<float>(3, 9, 37 + step);
        CHECK(mlp_test::same_bits(fused.forward(x, mlp::Mode::Train), plain.forward(x, mlp::Mode::Train)));
        CHECK(mlp_test::same_bits(fused.backward(g), plain.backward(g)));
        check_same_gradients(fused, plain);
      }
    }
  }
}
