// Whole convolutional networks: a gradient check through every new layer with the loss, a model
// file round trip, the messages a wrongly assembled CNN gets, training with the Trainer, and the
// allocation-free steady-state training step.
#include "alloc_counter.hpp"
#include "helpers.hpp"

#include <mlp/io/model_file.hpp>
#include <mlp/layers/activations.hpp>
#include <mlp/layers/batchnorm.hpp>
#include <mlp/layers/conv2d.hpp>
#include <mlp/layers/flatten.hpp>
#include <mlp/layers/linear.hpp>
#include <mlp/layers/pooling.hpp>
#include <mlp/losses/softmax_cross_entropy.hpp>
#include <mlp/model/sequential.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/train/trainer.hpp>

using mlp::Index;
using mlp::Shape;
using mlp::Size2;
using mlp_test::MatrixD;

namespace {

// Conv2d - BatchNorm2d - ReLU - MaxPool2d - Conv2d - ReLU - AvgPool2d - Flatten - Linear on
// 1 x 8 x 8 images: 3 x 8 x 8 -> 3 x 4 x 4 -> 4 x 4 x 3 -> 4 x 2 x 1 -> 8 -> classes.
template <class S>
mlp::Sequential<S> small_cnn(std::uint64_t seed, Index classes = 5) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape{1, 8, 8});
  model.template emplace<mlp::Conv2d<S>>(1, 3, 3, rng, mlp::Conv2dOptions{1, 1});
  model.template emplace<mlp::BatchNorm2d<S>>(3);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::MaxPool2d<S>>(2);
  model.template emplace<mlp::Conv2d<S>>(3, 4, Size2{3, 2}, rng, mlp::Conv2dOptions{1, {1, 0}});
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::AvgPool2d<S>>(Size2{2, 3});
  model.template emplace<mlp::Flatten<S>>();
  model.template emplace<mlp::Linear<S>>(8, classes, rng);
  return model;
}

mlp::Labels labels(Index n, int classes, std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Labels y(n);
  for (Index i = 0; i < n; ++i) y[i] = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
  return y;
}

}  // namespace

TEST_CASE("a whole CNN with softmax cross-entropy passes the gradient check") {
  mlp::Sequential<double> model = small_cnn<double>(3);
  CHECK(model.output_shape() == Shape::flat(5));
  model.set_input_grad(true);
  MatrixD x = mlp_test::random_matrix(64, 4, 4, -2.0, 2.0);
  const mlp::Labels y = labels(4, 5, 5);
  mlp::SoftmaxCrossEntropy<double> loss;
  const double value = loss.forward(model.forward(x, mlp::Mode::Train), y);
  CHECK(std::isfinite(value));
  MatrixD dx = model.backward(loss.backward());
  auto tensors = model.parameters();
  tensors.push_back({"input", x.data(), dx.data(), x.rows(), x.cols(), false});
  const auto report = mlp::check_gradients(tensors, [&] { return loss.forward(model.forward(x, mlp::Mode::Train), y); });
  INFO(report.describe());
  CHECK(report.max_rel_error < 1e-6);
  CHECK(report.checked == model.parameter_count() + 64 * 4);
}

TEST_CASE("a CNN saves and loads through the layer registry and predicts identically") {
  for (const char* kind : {"Conv2d", "MaxPool2d", "AvgPool2d"}) {
    CHECK(mlp::LayerRegistry<float>::instance().contains(kind));
    CHECK(mlp::LayerRegistry<double>::instance().contains(kind));
  }
  mlp_test::TempDir dir("cnn_file");
  mlp::Sequential<float> model = small_cnn<float>(7);
  for (int step = 0; step < 3; ++step) {  // BatchNorm's running statistics move away from 0 and 1
    model.forward(mlp_test::random_matrix<float>(64, 6, 10 + static_cast<std::uint64_t>(step)), mlp::Mode::Train);
  }
  mlp::save_model(dir.file("cnn.mlp"), model);
  const auto loaded = mlp::load_model<float>(dir.file("cnn.mlp"));
  CHECK(loaded.model.architecture() == model.architecture());
  CHECK(loaded.model.input_shape() == Shape{1, 8, 8});
  CHECK(loaded.model.summary() == model.summary());
  CHECK(mlp_test::same_state(loaded.model.state_dict(), model.state_dict()));
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(64, 9, 20);
  auto& reloaded = const_cast<mlp::Sequential<float>&>(loaded.model);
  CHECK(mlp_test::same_bits(reloaded.predict(x), model.predict(x)));
  const auto names = model.state_dict();
  CHECK(names[0].name == "0.weight");
  CHECK(names[0].value.rows() == 3);
  CHECK(names[0].value.cols() == 9);
  CHECK(model.describe().find("4: Conv2d(3, 4, kernel_size=(3, 2), stride=(1, 1), padding=(1, 0))") != std::string::npos);
}

TEST_CASE("a wrongly assembled CNN is refused with both neighbours and shapes named") {
  mlp::Rng rng(1);
  mlp::Sequential<float> model(Shape{1, 28, 28});
  model.emplace<mlp::Conv2d<float>>(1, 4, 3, rng, mlp::Conv2dOptions{1, 1});
  model.emplace<mlp::MaxPool2d<float>>(2);
  model.emplace<mlp::Flatten<float>>();
  CHECK_THROWS_WITH_AS(model.emplace<mlp::Linear<float>>(100, 10, rng),
                       "Sequential: layer 3 (Linear(100, 10)) cannot follow layer 2 (Flatten), whose output is 784 "
                       "features: Linear(100, 10) needs 100 features per sample, but its input is 784 features",
                       mlp::InvalidArgument);
  mlp::Sequential<float> deep(Shape{1, 6, 6});
  deep.emplace<mlp::MaxPool2d<float>>(2);
  CHECK_THROWS_WITH_AS(deep.emplace<mlp::Conv2d<float>>(1, 2, 5, rng),
                       "Sequential: layer 1 (Conv2d(1, 2, kernel_size=(5, 5), stride=(1, 1))) cannot follow layer 0 "
                       "(MaxPool2d(kernel_size=(2, 2), stride=(2, 2))), whose output is 1 x 3 x 3: Conv2d(1, 2, "
                       "kernel_size=(5, 5), stride=(1, 1)) cannot take an input of 1 x 3 x 3: its 5 x 5 kernel is "
                       "larger than the padded input of 3 x 3 (padding 0 x 0)",
                       mlp::InvalidArgument);
  mlp::Sequential<float> linear_first(Shape{1, 28, 28});
  linear_first.emplace<mlp::Flatten<float>>();
  linear_first.emplace<mlp::Linear<float>>(784, 16, rng);
  CHECK_THROWS_WITH_AS(linear_first.emplace<mlp::MaxPool2d<float>>(2),
                       doctest::Contains("cannot take an input of 16 features: its 2 x 2 kernel is larger than the "
                                         "padded input of 1 x 1"),
                       mlp::InvalidArgument);
}

TEST_CASE("a CNN trains with the Trainer and the steady-state training step allocates nothing") {
  const mlp_test::Blobs train = mlp_test::make_blobs(240, 64, 3, 1, 1.0f);
  mlp::Sequential<float> model = small_cnn<float>(11, 3);
  mlp::Adam<float> adam(model.parameters(), {3e-3});
  mlp::Trainer<float> trainer(model, adam);
  mlp::DataLoader<float> loader(train.x, train.y, {32, true, false, 42});
  loader.start_epoch(0);
  auto batch = loader.next();
  trainer.train_step(*batch);
  trainer.train_step(*batch);
  // Layer::forward and Layer::backward check every call; their messages (describe() allocates for
  // Conv2d) are built only when a check fails.
  const mlp_test::AllocationProbe probe;
  for (int i = 0; i < 5; ++i) trainer.train_step(*batch);
  CHECK(probe.count() == 0);
  trainer.fit(loader, nullptr, 12);
  const auto result = trainer.evaluate(loader);
  INFO("training accuracy " << result.accuracy);
  CHECK(result.accuracy > 0.9);  // chance is 1/3
}
