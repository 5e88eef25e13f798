#include "helpers.hpp"

#include <mlp/io/model_file.hpp>
#include <mlp/layers/dropout.hpp>
#include <mlp/layers/linear.hpp>
#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/sgd.hpp>
#include <mlp/train/trainer.hpp>

#include <utility>

using mlp_test::MatrixD;

TEST_CASE("Dropout keeps the mean in Train mode and is the identity in Eval mode") {
  mlp::Dropout<double> dropout(0.3, 17);
  const MatrixD x = MatrixD::Constant(100, 1000, 2.0);
  const MatrixD y = dropout.forward(x, mlp::Mode::Train);
  const double kept = static_cast<double>((y.array() != 0.0).count()) / static_cast<double>(y.size());
  CHECK(kept == doctest::Approx(0.7).epsilon(0.01));
  CHECK(y.mean() == doctest::Approx(2.0).epsilon(0.01));
  // Kept units are scaled by exactly 1 / (1 - p).
  CHECK(y.maxCoeff() == doctest::Approx(2.0 / 0.7).epsilon(1e-12));
  const MatrixD z = dropout.forward(x, mlp::Mode::Eval);
  CHECK(z == x);
}

TEST_CASE("Dropout masks differ between calls and replay from the saved state") {
  mlp::Dropout<float> dropout(0.5, 3);
  const mlp::Matrix<float> x = mlp::Matrix<float>::Ones(8, 8);
  const auto state = dropout.random_state();
  const mlp::Matrix<float> a = dropout.forward(x, mlp::Mode::Train);
  const mlp::Matrix<float> b = dropout.forward(x, mlp::Mode::Train);
  CHECK(a != b);
  dropout.set_random_state(state);
  CHECK(dropout.forward(x, mlp::Mode::Train) == a);
}

TEST_CASE("Dropout gradient passes the finite-difference check with a fixed mask") {
  mlp::Dropout<double> dropout(0.4, 5);
  const auto report = mlp_test::check_layer(dropout, mlp_test::random_matrix(6, 5, 2));
  INFO(report.describe());
  CHECK(report.max_rel_error < 1e-6);
}

TEST_CASE("Dropout with p = 0 passes everything through") {
  mlp::Dropout<double> dropout(0.0, 1);
  const MatrixD x = mlp_test::random_matrix(3, 4, 1);
  CHECK(dropout.forward(x, mlp::Mode::Train) == x);
  CHECK(dropout.backward(x) == x);
}

TEST_CASE("Dropout validates p and names the bad value") {
  CHECK_THROWS_WITH_AS(mlp::Dropout<float>(1.5),
                       "dropout probability has to be in [0, 1), but got 1.5",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::Dropout<float>(1.0), mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::Dropout<float>(-0.1), mlp::InvalidArgument);
}

TEST_CASE("Dropout masks are the generator's sequential draws, two per 64-bit output") {
  const double p = 0.3;
  mlp::Dropout<double> dropout(p, 77);
  const MatrixD x = MatrixD::Ones(7, 3);  // 21 elements: an odd count uses half of the last draw
  const MatrixD y = dropout.forward(x, mlp::Mode::Train);
  mlp::Rng reference(77);
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(1.0 - p, 32));
  for (mlp::Index i = 0; i < 21; i += 2) {
    const std::uint64_t bits = reference.next_u64();
    CHECK((y.data()[i] != 0.0) == ((bits & 0xffffffffULL) < threshold));
    if (i + 1 < 21) CHECK((y.data()[i + 1] != 0.0) == ((bits >> 32) < threshold));
  }
  CHECK(dropout.random_state() == reference.state());
}

// Two Dropout layers with the default seed (0), or any two of a loaded model, drew the same masks;
// only ParameterizedMLP and the programs seeded each its own (an independent review, 2026-12-06).
TEST_CASE("Dropout layers drawing the same numbers are refused by the Trainer; seed_random_layers and load_model seed each its own") {
  mlp::Rng rng(1);
  mlp::Sequential<float> model;
  model.emplace<mlp::Linear<float>>(6, 8, rng);
  model.emplace<mlp::Dropout<float>>(0.5);
  model.emplace<mlp::Linear<float>>(8, 8, rng);
  model.emplace<mlp::Dropout<float>>(0.5);
  model.emplace<mlp::Linear<float>>(8, 3, rng);
  CHECK(model.shared_random_state() == std::pair<std::size_t, std::size_t>{1, 3});
  mlp::SGD<float> sgd(model.parameters(), {0.1});
  CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, sgd),
                       mlp_test::contains("Trainer: layers 1 (Dropout(p=0.5)) and 3 (Dropout(p=0.5)) draw the same "
                                          "random numbers"),
                       mlp::InvalidArgument);

  // The seeds ParameterizedMLP gives its Dropout layers.
  model.seed_random_layers(42);
  CHECK(!model.shared_random_state());
  mlp::MlpSpec spec;
  spec.inputs = 6;
  spec.hidden = {8, 8};
  spec.classes = 3;
  spec.dropout = 0.5;
  CHECK(model.random_states() == mlp::ParameterizedMLP<float>(spec, 42).random_states());
  CHECK_NOTHROW(mlp::Trainer<float>(model, sgd));

  // Two that draw nothing (p = 0) are not refused.
  mlp::Sequential<float> plain;
  plain.emplace<mlp::Linear<float>>(6, 3, rng);
  plain.emplace<mlp::Dropout<float>>(0.0);
  plain.emplace<mlp::Dropout<float>>(0.0);
  CHECK(!plain.shared_random_state());

  const mlp_test::TempDir dir("dropout_seeds");
  const std::string path = dir.file("dropouts.mlp");
  mlp::save_model(path, mlp::ParameterizedMLP<float>(spec, 7));
  const auto loaded = mlp::load_model<float>(path);
  CHECK(!loaded.model.shared_random_state());
  CHECK(loaded.model.random_states() == mlp::ParameterizedMLP<float>(spec, 0).random_states());
}

// Dropout(0.9999995) was built, and then refused by save_model ("could not be built again from its
// config()"): from_config took p up to 0.999999 only (the ninth hostile round).
TEST_CASE("a Dropout of any p the constructor takes saves and loads") {
  mlp::Rng rng(2);
  mlp::Sequential<float> model;
  model.emplace<mlp::Linear<float>>(3, 2, rng);
  model.emplace<mlp::Dropout<float>>(0.9999995);
  const mlp_test::TempDir dir("dropout_p");
  mlp::save_model(dir.file("p.mlp"), model);
  const auto loaded = mlp::load_model<float>(dir.file("p.mlp"));
  CHECK(dynamic_cast<const mlp::Dropout<float>&>(loaded.model[1]).p() == 0.9999995);
}
