// The parallel paths: Conv2d's per-worker chunks, BatchNorm2d's channels, the pools, the bf16 product
// and Eigen's own threads, run by the Trainer at 2 threads. Two runs at the same thread count give the
// same bits, and the layers that promise it give the same bits at 1 and 2 threads. Built with OpenMP
// (without it there is one thread and these tests check only determinism); the tsan preset runs them
// under ThreadSanitizer.
#include "helpers.hpp"

#include <mlp/mlp.hpp>

#include <doctest/doctest.h>

#include <Eigen/Core>

#include <vector>

namespace {

using mlp::Index;
using mlp::Shape;
using mlp::Size2;

// Sets Eigen's thread count for a scope.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(Eigen::nbThreads()) { Eigen::setNbThreads(n); }
  ~ThreadCount() { Eigen::setNbThreads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

mlp::Sequential<float> thread_cnn(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<float> model(Shape{1, 12, 12});
  model.emplace<mlp::Conv2d<float>>(1, 8, 3, rng, mlp::Conv2dOptions{1, 1});
  model.emplace<mlp::BatchNorm2d<float>>(8);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::MaxPool2d<float>>(2);
  model.emplace<mlp::Conv2d<float>>(8, 8, 3, rng, mlp::Conv2dOptions{1, 1});
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::AvgPool2d<float>>(2);
  model.emplace<mlp::Flatten<float>>();
  model.emplace<mlp::Linear<float>>(72, 24, rng);
  model.emplace<mlp::BatchNorm1d<float>>(24);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::Dropout<float>>(0.2, rng.next_u64());
  model.emplace<mlp::Linear<float>>(24, 3, rng);
  return model;
}

struct TrainedRun {
  std::vector<float> parameters;
  std::vector<double> losses;
};

// Three epochs of Adam on blobs, with validation, at `threads` threads.
TrainedRun train_cnn(int threads, mlp::MatmulPrecision precision) {
  const ThreadCount scope(threads);
  const mlp_test::Blobs train = mlp_test::make_blobs(300, 144, 3, 7, 2.0f);
  const mlp_test::Blobs val = mlp_test::make_blobs(90, 144, 3, 8, 2.0f);
  mlp::Sequential<float> model = thread_cnn(5);
  model.set_matmul_precision(precision);
  mlp::Adam<float> adam(model.parameters(), {2e-3});
  mlp::Trainer<float> trainer(model, adam);
  mlp::DataLoader<float> train_loader(train.x, train.y, {64, true, false, 3});
  mlp::DataLoader<float> val_loader(val.x, val.y, {45, false, false, 0});
  const mlp::History history = trainer.fit(train_loader, &val_loader, 3);
  TrainedRun run;
  for (const auto& epoch : history.epochs) {
    run.losses.push_back(epoch.train_loss);
    run.losses.push_back(epoch.val_loss);
  }
  for (auto& p : model.parameters()) {
    const auto values = p.value_map();
    run.parameters.insert(run.parameters.end(), values.data(), values.data() + values.size());
  }
  return run;
}

}  // namespace

TEST_CASE("threads: a CNN trained twice at 2 threads gives the same bits") {
  for (const auto precision : {mlp::MatmulPrecision::Float32, mlp::MatmulPrecision::BFloat16}) {
    const TrainedRun a = train_cnn(2, precision);
    const TrainedRun b = train_cnn(2, precision);
    CHECK(a.losses == b.losses);
    CHECK(a.parameters == b.parameters);
    CHECK(a.losses.size() == 6);
  }
}

TEST_CASE("threads: Conv2d, BatchNorm2d and the pools give the same bits at 1 and 2 threads") {
  mlp::Rng rng(3);
  mlp::Sequential<float> model(Shape{3, 10, 9});
  model.emplace<mlp::Conv2d<float>>(3, 6, Size2{3, 2}, rng, mlp::Conv2dOptions{{2, 1}, {1, 0}});
  model.emplace<mlp::BatchNorm2d<float>>(6);
  model.emplace<mlp::MaxPool2d<float>>(2);
  model.emplace<mlp::AvgPool2d<float>>(Size2{1, 2});
  model.set_input_grad(true);
  for (const auto precision : {mlp::MatmulPrecision::Float32, mlp::MatmulPrecision::BFloat16}) {
    model.set_matmul_precision(precision);
    for (const Index batch : {Index{37}, Index{1}}) {
      if (batch == 1 && precision == mlp::MatmulPrecision::Float32) continue;
      INFO(mlp::to_string(precision), ", batch ", batch);
      const mlp::Matrix<float> x = mlp_test::random_matrix<float>(3 * 10 * 9, batch, 11);
      std::vector<mlp::Matrix<float>> outputs;
      std::vector<mlp::Matrix<float>> input_grads;
      std::vector<std::vector<float>> grads;
      for (const int threads : {1, 2}) {
        const ThreadCount scope(threads);
        const mlp::Matrix<float> y = model.forward(x, mlp::Mode::Train);
        outputs.push_back(y);
        input_grads.push_back(model.backward(y));
        std::vector<float> g;
        for (auto& p : model.parameters()) {
          const auto values = p.grad_map();
          g.insert(g.end(), values.data(), values.data() + values.size());
        }
        grads.push_back(g);
      }
      CHECK(outputs[0] == outputs[1]);
      CHECK(input_grads[0] == input_grads[1]);
      CHECK(grads[0] == grads[1]);
    }
  }
}

// One sample is one chunk, so its products may run on Eigen's threads: fp32 ones may then differ
// in the last bits, bf16 ones never depend on the thread count. Products of 10 MFLOP (more than
// gemm_bf16's threshold for threads).
TEST_CASE("threads: a bf16 Conv2d on a single sample gives the same bits at 1 and 2 threads") {
  mlp::Rng rng(4);
  mlp::Conv2d<float> conv(32, 32, 3, rng, mlp::Conv2dOptions{1, 1});
  conv.bind(Shape{32, 24, 24});
  conv.set_input_grad(true);
  conv.set_matmul_precision(mlp::MatmulPrecision::BFloat16);
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(32 * 24 * 24, 1, 12);
  std::vector<mlp::Matrix<float>> results;
  for (const int threads : {1, 2}) {
    const ThreadCount scope(threads);
    const mlp::Matrix<float> y = conv.forward(x, mlp::Mode::Train);
    results.push_back(y);
    results.push_back(conv.backward(y));
    results.push_back(conv.weight_grad());
  }
  CHECK(results[0] == results[3]);
  CHECK(results[1] == results[4]);
  CHECK(results[2] == results[5]);
}

TEST_CASE("threads: an MLP trained by the Trainer twice at 2 threads gives the same bits") {
  auto run = [] {
    const ThreadCount scope(2);
    const mlp_test::Blobs train = mlp_test::make_blobs(600, 64, 4, 2, 1.5f);
    mlp::MlpSpec spec;
    spec.inputs = 64;
    spec.hidden = {96, 48};
    spec.classes = 4;
    spec.batch_norm = true;
    spec.dropout = 0.1;
    mlp::ParameterizedMLP<float> model(spec, 9);
    mlp::AdamW<float> adamw(model.parameters(), {1e-3});
    mlp::Trainer<float> trainer(model, adamw);
    mlp::DataLoader<float> loader(train.x, train.y, {100, true, false, 4});
    const mlp::History history = trainer.fit(loader, nullptr, 2);
    std::vector<float> values;
    for (auto& p : model.parameters()) {
      const auto v = p.value_map();
      values.insert(values.end(), v.data(), v.data() + v.size());
    }
    values.push_back(static_cast<float>(history.epochs.back().train_loss));
    return values;
  };
  CHECK(run() == run());
}
