#include "helpers.hpp"

#include <mlp/layers/flatten.hpp>
#include <mlp/losses/regularization.hpp>
#include <mlp/losses/softmax_cross_entropy.hpp>
#include <mlp/model/parameterized_mlp.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using mlp_test::MatrixD;
using mlp_test::random_matrix;

namespace {

mlp::MlpSpec spec_of(std::vector<mlp::Index> hidden, bool bn = false, double dropout = 0.0) {
  mlp::MlpSpec spec;
  spec.inputs = 12;
  spec.hidden = std::move(hidden);
  spec.classes = 4;
  spec.batch_norm = bn;
  spec.dropout = dropout;
  return spec;
}

mlp::Labels random_labels(mlp::Index n, int classes, std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Labels y(n);
  for (mlp::Index i = 0; i < n; ++i) y[i] = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
  return y;
}

}  // namespace

TEST_CASE("ParameterizedMLP builds Linear then optional BatchNorm1d then activation then optional Dropout per width") {
  mlp::ParameterizedMLP<float> plain(spec_of({8, 6}), 1);
  CHECK(plain.describe() == "0: Linear(12, 8)\n1: ReLU\n2: Linear(8, 6)\n3: ReLU\n4: Linear(6, 4)\n");
  mlp::ParameterizedMLP<float> full(spec_of({8}, true, 0.25), 1);
  CHECK(full.describe() ==
        "0: Linear(12, 8)\n1: BatchNorm1d(8)\n2: ReLU\n3: Dropout(p=0.25)\n4: Linear(8, 4)\n");
  mlp::ParameterizedMLP<float> linear_model(spec_of({}), 1);
  CHECK(linear_model.describe() == "0: Linear(12, 4)\n");
  auto tanh_spec = spec_of({5});
  tanh_spec.activation = mlp::Activation::Tanh;
  CHECK(mlp::ParameterizedMLP<float>(tanh_spec, 1).describe() ==
        "0: Linear(12, 5)\n1: Tanh\n2: Linear(5, 4)\n");
  CHECK(full.spec().describe() == "12-8-4 relu +batchnorm dropout=0.25");
}

TEST_CASE("parameters and buffers are named like PyTorch's and only weights decay") {
  mlp::ParameterizedMLP<float> model(spec_of({8}, true), 1);
  const auto params = model.parameters();
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p.name + (p.decay ? "*" : ""));
  CHECK(names == std::vector<std::string>{"0.weight*", "0.bias", "1.weight", "1.bias", "3.weight*",
                                          "3.bias"});
  const auto buffers = model.buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[0].name == "1.running_mean");
  CHECK(buffers[1].name == "1.running_var");
  CHECK(buffers[2].name == "1.num_batches_tracked");
  mlp::MlpSpec baseline{784, {256, 128}, 10};
  CHECK(mlp::ParameterizedMLP<float>(baseline, 42).parameter_count() == 235146);
}

TEST_CASE("the same seed gives bit-identical weights and outputs and another seed differs") {
  const auto spec = spec_of({16, 8}, true, 0.2);
  mlp::ParameterizedMLP<float> a(spec, 42), b(spec, 42), c(spec, 43);
  const auto sa = a.state_dict(), sb = b.state_dict(), sc = c.state_dict();
  REQUIRE(sa.size() == sb.size());
  bool all_same = true, any_diff_c = false;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    all_same = all_same && mlp_test::same_bits(sa[i].value, sb[i].value);
    any_diff_c = any_diff_c || !mlp_test::same_bits(sa[i].value, sc[i].value);
  }
  CHECK(all_same);
  CHECK(any_diff_c);
  const mlp::Matrix<float> x = random_matrix<float>(12, 32, 5);
  CHECK(mlp_test::same_bits<float>(a.forward(x, mlp::Mode::Train), b.forward(x, mlp::Mode::Train)));
  CHECK(mlp_test::same_bits<float>(a.forward(x, mlp::Mode::Train), b.forward(x, mlp::Mode::Train)));
  CHECK(!mlp_test::same_bits<float>(a.forward(x, mlp::Mode::Train), c.forward(x, mlp::Mode::Train)));
}

TEST_CASE("state_dict round-trips into another model") {
  const auto spec = spec_of({10}, true);
  mlp::ParameterizedMLP<double> a(spec, 1), b(spec, 2);
  const MatrixD x = random_matrix(12, 6, 3);
  a.forward(x, mlp::Mode::Train);  // moves the running statistics away from their defaults
  const MatrixD ya = a.predict(x);
  CHECK(!b.predict(x).isApprox(ya));
  b.load_state_dict(a.state_dict());
  CHECK(b.predict(x) == ya);
}

TEST_CASE("load_state_dict checks names and shapes and changes nothing on a mismatch") {
  mlp::ParameterizedMLP<float> model(spec_of({10}), 1);
  const auto original = model.state_dict();
  auto wrong_shape = original;
  wrong_shape[2].value.resize(4, 9);
  CHECK_THROWS_WITH_AS(model.load_state_dict(wrong_shape),
                       "load_state_dict: shape mismatch for '2.weight': the model has 4 x 10, the "
                       "state dict has 4 x 9",
                       mlp::InvalidArgument);
  auto missing = original;
  missing.pop_back();
  CHECK_THROWS_WITH_AS(model.load_state_dict(missing), doctest::Contains("no tensor '2.bias'"),
                       mlp::InvalidArgument);
  auto extra = original;
  extra.push_back({"7.weight", mlp::Matrix<float>::Zero(1, 1)});
  CHECK_THROWS_WITH_AS(model.load_state_dict(extra), doctest::Contains("unexpected tensor '7.weight'"),
                       mlp::InvalidArgument);
  auto changed = original;
  changed[0].value.setConstant(5.0f);
  changed.back().value.resize(1, 1);  // invalid: nothing may be loaded
  CHECK_THROWS(model.load_state_dict(changed));
  CHECK(model.state_dict()[0].value == original[0].value);
}

TEST_CASE("load_state_dict refuses a negative BatchNorm running variance") {
  // (a model file with one made every Eval output NaN: accuracy 10%, exit status 0)
  mlp::ParameterizedMLP<float> model(spec_of({10}, true), 1);
  auto state = model.state_dict();
  const auto var = std::find_if(state.begin(), state.end(), [](const auto& t) { return t.name == "1.running_var"; });
  REQUIRE(var != state.end());
  var->value(3, 0) = -0.5f;
  CHECK_THROWS_WITH_AS(model.load_state_dict(state),
                       "load_state_dict: '1.running_var' holds negative values, which a variance cannot",
                       mlp::InvalidArgument);
  var->value(3, 0) = 0.0f;  // zero is a variance (of a constant feature)
  model.load_state_dict(state);
  // A diverged model's own state goes back into it, NaN statistics and all, as NaN weights do: `train`
  // evaluates the last epoch's state after the best one (it failed with "negative values" instead of
  // reporting the divergence, exit status 2 for 1)
  var->value(3, 0) = std::numeric_limits<float>::quiet_NaN();
  state[0].value(0, 0) = std::numeric_limits<float>::quiet_NaN();
  model.load_state_dict(state);
  CHECK(std::isnan(model.state_dict()[0].value(0, 0)));
  var->value(3, 0) = 0.0f;
  state[0].value(0, 0) = 0.0f;
  const auto count = std::find_if(state.begin(), state.end(), [](const auto& t) {
    return t.name == "1.num_batches_tracked";
  });
  REQUIRE(count != state.end());
  for (const float bad : {-1.0f, 2.5f}) {
    count->value(0, 0) = bad;
    CHECK_THROWS_WITH_AS(model.load_state_dict(state),
                         "load_state_dict: '1.num_batches_tracked' is not a count (a whole number >= 0)",
                         mlp::InvalidArgument);
  }
}

TEST_CASE("a whole network with BatchNorm and dropout and L1 and L2 passes the gradient check") {
  auto spec = spec_of({7, 5}, true, 0.3);
  spec.inputs = 6;
  spec.classes = 3;
  mlp::ParameterizedMLP<double> model(spec, 9);
  model.set_input_grad(true);
  MatrixD x = random_matrix(6, 8, 10, -2.0, 2.0);
  const mlp::Labels y = random_labels(8, 3, 11);
  mlp::SoftmaxCrossEntropy<double> ce(0.1);
  const mlp::WeightPenalty penalty(1e-3, 1e-2);
  auto params = model.parameters();
  const auto states = model.random_states();
  REQUIRE(states.size() == 2);

  const double loss = ce.forward(model.forward(x, mlp::Mode::Train), y) + penalty.value(params);
  CHECK(std::isfinite(loss));
  MatrixD dx = model.backward(ce.backward());
  penalty.add_gradient(params);
  auto tensors = params;
  tensors.push_back({"input", x.data(), dx.data(), x.rows(), x.cols(), false});
  const auto report = mlp::check_gradients(tensors, [&] {
    model.set_random_states(states);
    return ce.forward(model.forward(x, mlp::Mode::Train), y) + penalty.value(params);
  });
  INFO(report.describe());
  CHECK(report.max_rel_error < 1e-6);
}

TEST_CASE("the first layer skips dL/dx by default") {
  mlp::ParameterizedMLP<float> model(spec_of({5}), 3);
  const mlp::Matrix<float> x = random_matrix<float>(12, 4, 1);
  model.forward(x, mlp::Mode::Train);
  CHECK(model.backward(mlp::Matrix<float>::Ones(4, 4)).size() == 0);
  model.set_input_grad(true);
  model.forward(x, mlp::Mode::Train);
  CHECK(model.backward(mlp::Matrix<float>::Ones(4, 4)).rows() == 12);
}

TEST_CASE("MlpSpec validation names the bad value") {
  auto spec = spec_of({8, 0});
  CHECK_THROWS_WITH_AS(mlp::ParameterizedMLP<float>(spec, 1),
                       "MlpSpec.hidden[1] has to be positive, but got 0", mlp::InvalidArgument);
  spec = spec_of({8}, false, 1.5);
  CHECK_THROWS_WITH_AS(mlp::ParameterizedMLP<float>(spec, 1),
                       "dropout probability has to be in [0, 1), but got 1.5", mlp::InvalidArgument);
  spec = spec_of({8});
  spec.inputs = 0;
  CHECK_THROWS_AS(mlp::ParameterizedMLP<float>(spec, 1), mlp::InvalidArgument);
  CHECK(mlp::parse_activation("tanh") == mlp::Activation::Tanh);
  CHECK_THROWS_WITH_AS(mlp::parse_activation("gelu"), doctest::Contains("unknown activation 'gelu'"),
                       mlp::InvalidArgument);
}

TEST_CASE("a Sequential without layers is the identity") {
  mlp::Sequential<float> empty;
  const mlp::Matrix<float> x = random_matrix<float>(3, 2, 1);
  CHECK(empty.forward(x, mlp::Mode::Train) == x);
  CHECK(empty.parameter_count() == 0);
}

TEST_CASE("Sequential checks neighbouring shapes when it is built and names both layers and shapes") {
  mlp::Rng rng(1);
  mlp::Sequential<float> model;
  model.emplace<mlp::Linear<float>>(784, 128, rng);
  model.emplace<mlp::ReLU<float>>();
  CHECK_THROWS_WITH_AS(model.emplace<mlp::Linear<float>>(100, 10, rng),
                       "Sequential: layer 2 (Linear(100, 10)) cannot follow layer 1 (ReLU), whose output is 128 "
                       "features: Linear(100, 10) needs 100 features per sample, but its input is 128 features",
                       mlp::InvalidArgument);
  CHECK(model.size() == 2);  // the rejected layer was not added
  CHECK(model.input_shape() == mlp::Shape::flat(784));
  CHECK(model.output_shape() == mlp::Shape::flat(128));

  mlp::Sequential<float> images(mlp::Shape{1, 28, 28});
  CHECK_THROWS_WITH_AS(images.emplace<mlp::Linear<float>>(784, 10, rng),
                       doctest::Contains("Linear(784, 10) needs 784 features per sample, but its input is 1 x 28 x 28 "
                                         "(put a Flatten before it)"),
                       mlp::InvalidArgument);
  images.emplace<mlp::Flatten<float>>();
  images.emplace<mlp::Linear<float>>(784, 10, rng);
  CHECK(images.output_shape() == mlp::Shape::flat(10));

  mlp::Sequential<float> no_shape;
  CHECK_THROWS_WITH_AS(no_shape.emplace<mlp::ReLU<float>>(),
                       doctest::Contains("the first layer, ReLU, does not determine the model's input shape"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(model.forward(random_matrix<float>(783, 2, 1), mlp::Mode::Eval),
                       "Linear(784, 128) expects 784 features per sample (784 rows), but got a batch of 783 x 2",
                       mlp::InvalidArgument);
}

TEST_CASE("summary() lists each layer, its output shape and parameter count") {
  mlp::ParameterizedMLP<float> model(spec_of({8}, true), 1);
  const std::string text = model.summary();
  INFO(text);
  CHECK(text.find("input") != std::string::npos);
  CHECK(text.find("Linear(12, 8)") != std::string::npos);
  CHECK(text.find("BatchNorm1d(8)") != std::string::npos);
  CHECK(text.find("total parameters: " + std::to_string(model.parameter_count())) != std::string::npos);
  const auto lines = mlp::detail::split(text, '\n');
  REQUIRE(lines.size() == 8);  // header, input, 4 layers, total, "" after the last newline
  CHECK(lines[2].find("104") != std::string::npos);  // 12 x 8 + 8
}

TEST_CASE("check_model_gradients replays the dropout masks and leaves the model as it was") {
  auto spec = spec_of({7, 5}, true, 0.3);
  spec.inputs = 6;
  spec.classes = 3;
  mlp::ParameterizedMLP<double> model(spec, 9);
  const auto before = model.state_dict();
  const auto states = model.random_states();
  const auto report = mlp::check_model_gradients(model, random_matrix(6, 8, 10, -2.0, 2.0), random_labels(8, 3, 11), 0.1);
  INFO(report.describe());
  CHECK(report.max_rel_error < 1e-6);
  CHECK(report.checked > 100);
  CHECK(mlp_test::same_state(model.state_dict(), before));  // running statistics restored
  CHECK(model.random_states() == states);
  CHECK(!model.input_grad());
}
