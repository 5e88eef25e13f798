// A Sequential's layers read their input again in backward instead of keeping a copy
// (Layer::can_read_kept_input): Linear and Conv2d skip copying x, BatchNorm2d skips writing x
// normalized. The same bits as the layers driven one by one (which keep their own copies), the
// buffer a layer is given (first layer, Eval, a pass-through layer in between, a user's layer),
// and the refusal when the buffer's owner ran another forward before the backward.
#include "helpers.hpp"

#include <mlp/mlp.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

using mlp::Index;
using mlp::Shape;

// Conv2d - BatchNorm2d - ReLU - MaxPool2d - Conv2d - BatchNorm2d - Flatten - Linear - BatchNorm1d -
// ReLU - Linear: every kind that reads its kept input, after a pool, after a pass-through, after a
// fused pair (whose ReLU passes the BatchNorm1d's buffer on).
template <class S>
mlp::Sequential<S> kept_image_model(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<S> model(Shape{2, 6, 6});
  model.template emplace<mlp::Conv2d<S>>(2, 3, 3, rng, mlp::Conv2dOptions{1, 1});
  auto& bn = model.template emplace<mlp::BatchNorm2d<S>>(3);
  bn.weight() << S(0.5), S(-1.5), S(2);
  bn.bias() << S(0.25), S(0.5), S(-0.75);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::MaxPool2d<S>>(2);
  model.template emplace<mlp::Conv2d<S>>(3, 4, 3, rng, mlp::Conv2dOptions{1, 1});
  model.template emplace<mlp::BatchNorm2d<S>>(4);
  model.template emplace<mlp::Flatten<S>>();
  model.template emplace<mlp::Linear<S>>(36, 7, rng);
  model.template emplace<mlp::BatchNorm1d<S>>(7);
  model.template emplace<mlp::ReLU<S>>();
  model.template emplace<mlp::Linear<S>>(7, 4, rng);
  model.set_input_grad(true);
  return model;
}

// Two Train steps through the Sequential: outputs, dL/dx and the parameter gradients.
template <class S>
std::vector<mlp::Matrix<S>> run_kept_sequential(mlp::Sequential<S>& model) {
  std::vector<mlp::Matrix<S>> out;
  for (std::uint64_t step = 0; step < 2; ++step) {
    const mlp::Matrix<S> x = mlp_test::random_matrix<S>(72, 5, 60 + step, -2.0, 2.0);
    out.push_back(model.forward(x, mlp::Mode::Train));
    out.push_back(model.backward(mlp_test::random_matrix<S>(4, 5, 70 + step)));
    for (auto& p : model.parameters()) out.emplace_back(p.grad_map());
  }
  return out;
}

// The same, each layer driven on its own with a copy of its input (so none is given a kept input).
template <class S>
std::vector<mlp::Matrix<S>> run_kept_one_by_one(mlp::Sequential<S>& model) {
  std::vector<mlp::Matrix<S>> out;
  for (std::uint64_t step = 0; step < 2; ++step) {
    mlp::Matrix<S> h = mlp_test::random_matrix<S>(72, 5, 60 + step, -2.0, 2.0);
    for (std::size_t i = 0; i < model.size(); ++i) h = model[i].forward(h, mlp::Mode::Train);
    out.push_back(h);
    mlp::Matrix<S> g = mlp_test::random_matrix<S>(4, 5, 70 + step);
    for (std::size_t i = model.size(); i-- > 0;) g = model[i].backward(g);
    out.push_back(g);
    for (auto& p : model.parameters()) out.emplace_back(p.grad_map());
  }
  return out;
}

template <class S>
void check_kept_same_bits() {
  mlp::Sequential<S> kept = kept_image_model<S>(3), copied = kept_image_model<S>(3);
  copied.set_fuse_relu(false);  // the layers one by one compute their ReLUs themselves
  const auto a = run_kept_sequential(kept), b = run_kept_one_by_one(copied);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("matrix " << i);
    CHECK(mlp_test::same_bits(a[i], b[i]));
  }
}

// An identity layer that reads its kept input and records what it was given.
template <class S>
class KeptProbe final : public mlp::Layer<S> {
 public:
  std::string_view kind() const override { return "KeptProbe"; }
  const mlp::Matrix<S>* in_forward = nullptr;
  const mlp::Matrix<S>* in_backward = nullptr;
  bool reads = true;

 protected:
  bool can_read_kept_input() const override { return reads; }
  const mlp::Matrix<S>& forward_impl(const Eigen::Ref<const mlp::Matrix<S>>& x, mlp::Mode /*mode*/) override {
    in_forward = this->kept_input();
    y_ = x;
    return y_;
  }
  const mlp::Matrix<S>& backward_impl(const Eigen::Ref<const mlp::Matrix<S>>& dy) override {
    in_backward = this->kept_input();
    dx_ = dy;
    return dx_;
  }

 private:
  mlp::Matrix<S> y_, dx_;
};

}  // namespace

TEST_CASE("a Sequential's layers that read their kept input give the bits of the layers one by one") {
  check_kept_same_bits<float>();
  check_kept_same_bits<double>();
}

TEST_CASE("a layer is given the earlier layer's output buffer as its kept input in a Train forward only") {
  mlp::Rng rng(5);
  mlp::Sequential<double> model(Shape::flat(3));
  auto& first = model.emplace<KeptProbe<double>>();
  model.emplace<mlp::Linear<double>>(3, 4, rng);
  auto& after_linear = model.emplace<KeptProbe<double>>();
  model.emplace<mlp::Flatten<double>>();  // passes its input through: the owner stays the probe
  auto& after_flatten = model.emplace<KeptProbe<double>>();
  auto& refusing = model.emplace<KeptProbe<double>>();
  refusing.reads = false;
  model.emplace<mlp::Linear<double>>(4, 2, rng);
  const mlp_test::MatrixD x = mlp_test::random_matrix(3, 5, 1), dy = mlp_test::random_matrix(2, 5, 2);

  std::vector<const mlp_test::MatrixD*> outputs{&model.forward_layer(0, x, mlp::Mode::Train)};
  for (std::size_t i = 1; i < model.size(); ++i) outputs.push_back(&model.forward_layer(i, *outputs.back(), mlp::Mode::Train));
  model.backward(dy);
  CHECK(first.in_forward == nullptr);  // the model's input belongs to the caller
  CHECK(first.in_backward == nullptr);
  CHECK(after_linear.in_forward == outputs[1]);  // the Linear's output buffer
  CHECK(after_linear.in_backward == outputs[1]);
  CHECK(outputs[3] == outputs[2]);  // the Flatten returned the probe's buffer
  CHECK(after_flatten.in_forward == outputs[2]);
  CHECK(after_flatten.in_backward == outputs[2]);
  CHECK(refusing.in_forward == nullptr);
  CHECK(refusing.in_backward == nullptr);

  model.forward(x, mlp::Mode::Eval);
  CHECK(after_linear.in_forward == nullptr);
  // Used on its own, a layer keeps its own copy.
  mlp::Linear<double> alone(3, 4, rng);
  KeptProbe<double> probe;
  probe.forward(alone.forward(x, mlp::Mode::Train), mlp::Mode::Train);
  CHECK(probe.in_forward == nullptr);
}

TEST_CASE("a layer that reads its kept input refuses backward after the input's owner ran another forward") {
  mlp::Sequential<float> model = kept_image_model<float>(4);
  const mlp::Matrix<float> x = mlp_test::random_matrix<float>(72, 5, 80, -2.0, 2.0);
  const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(4, 5, 81);
  model.forward(x, mlp::Mode::Train);
  // The first convolution's output is the first BatchNorm2d's kept input.
  model[0].forward(mlp_test::random_matrix<float>(72, 5, 82), mlp::Mode::Eval);
  CHECK_THROWS_WITH_AS(model.backward(dy),
                       "BatchNorm2d(3): backward reads the input of its last forward, the output of Conv2d(2, 3, "
                       "kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), which has run another forward since "
                       "(run the Sequential's forward again before its backward)",
                       mlp::RuntimeError);
  // Through a pass-through layer: the Linear after the Flatten reads the second BatchNorm2d's output.
  model.forward(x, mlp::Mode::Train);
  model[5].forward(mlp_test::random_matrix<float>(36, 5, 83), mlp::Mode::Eval);
  CHECK_THROWS_WITH_AS(model.backward(dy),
                       "Linear(36, 7): backward reads the input of its last forward, the output of BatchNorm2d(4), "
                       "which has run another forward since (run the Sequential's forward again before its "
                       "backward)",
                       mlp::RuntimeError);
  // Through a fused pair: the last Linear reads the BatchNorm1d's output, which its ReLU passed on.
  model.forward(x, mlp::Mode::Train);
  model[8].forward(mlp_test::random_matrix<float>(7, 5, 84), mlp::Mode::Eval);
  CHECK_THROWS_WITH_AS(model.backward(dy),
                       "Linear(7, 4): backward reads the input of its last forward, the output of BatchNorm1d(7), "
                       "which has run another forward since (run the Sequential's forward again before its "
                       "backward)",
                       mlp::RuntimeError);
  // A new forward of the whole model makes backward possible again.
  model.forward(x, mlp::Mode::Train);
  CHECK_NOTHROW(model.backward(dy));
}

TEST_CASE("the layers that can read their kept input do read it in a Sequential's backward") {
  // Changing an owner's output buffer after the forward (which nothing in the library does) shows in
  // the parameter gradients of the layer that reads it, and only when it reads it.
  const mlp::Matrix<double> x = mlp_test::random_matrix<double>(72, 5, 90, -2.0, 2.0);
  const mlp::Matrix<double> dy = mlp_test::random_matrix<double>(4, 5, 91);
  // reader, owner: the second Conv2d after the pool, the second BatchNorm2d after the Conv2d, the
  // Linear after the Flatten, the last Linear after the fused BatchNorm1d + ReLU.
  const std::vector<std::pair<std::size_t, std::size_t>> cases{{4, 3}, {5, 4}, {7, 5}, {10, 8}};
  for (const auto& c : cases) {
    const std::size_t reader = c.first, owner = c.second;
    INFO("reader " << reader << ", owner " << owner);
    mlp::Sequential<double> model = kept_image_model<double>(6), reference = kept_image_model<double>(6);
    std::vector<const mlp::Matrix<double>*> out{&model.forward_layer(0, x, mlp::Mode::Train)};
    for (std::size_t i = 1; i < model.size(); ++i) out.push_back(&model.forward_layer(i, *out.back(), mlp::Mode::Train));
    reference.forward(x, mlp::Mode::Train);
    const_cast<mlp::Matrix<double>*>(out[owner])->array() += 0.5;
    model.backward(dy);
    reference.backward(dy);
    const auto changed = model.parameters(), kept = reference.parameters();
    const std::string name = std::to_string(reader) + ".weight";  // a bias gradient does not read x
    bool any = false;
    for (std::size_t p = 0; p < changed.size(); ++p) {
      if (changed[p].name != name) continue;
      any = true;
      INFO(changed[p].name);
      CHECK(changed[p].grad_map() != kept[p].grad_map());
    }
    CHECK(any);
  }
}

namespace {

// A loader over `samples` random images of kept_image_model's input, in order, batches of 5.
struct KeptLoader {
  mlp::Matrix<float> x;
  mlp::Labels y;
  mlp::DataLoader<float> loader;
  explicit KeptLoader(Index samples)
      : x(mlp_test::random_matrix<float>(72, samples, 100, -2.0, 2.0)), y(mlp::Labels::Zero(samples)),
        loader(x, y, {5, false, false, 0}) {}
};

// A KeptProbe as the first layer (it records the kept input it is given), then a Linear(72, 3).
mlp::Sequential<float> probe_first_model(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<float> model(Shape::flat(72));
  model.emplace<KeptProbe<float>>();
  model.emplace<mlp::Linear<float>>(72, 3, rng);
  return model;
}

}  // namespace

TEST_CASE("a loader's full batch given with its version is the first layer's kept input, with the bits of a copy") {
  KeptLoader data(12);
  mlp::Sequential<float> kept = kept_image_model<float>(7), copied = kept_image_model<float>(7);
  const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(4, 5, 101);
  for (int b = 0; b < 2; ++b) {
    const auto batch = data.loader.next();
    REQUIRE(batch.has_value());
    REQUIRE(batch->source.matrix != nullptr);
    CHECK(batch->source.current());
    CHECK(batch->source.matrix->data() == batch->x.data());
    CHECK(mlp_test::same_bits(kept.forward(batch->source, mlp::Mode::Train), copied.forward(batch->x, mlp::Mode::Train)));
    CHECK(mlp_test::same_bits(kept.backward(dy), copied.backward(dy)));
    const auto a = kept.parameters(), c = copied.parameters();
    for (std::size_t p = 0; p < a.size(); ++p) {
      INFO(a[p].name);
      CHECK(mlp_test::same_bits(mlp::Matrix<float>(a[p].grad_map()), mlp::Matrix<float>(c[p].grad_map())));
    }
  }
  // The last batch (2 of 5 samples) is not all of the loader's matrix: no source, and copied.
  const auto last = data.loader.next();
  REQUIRE(last.has_value());
  CHECK(last->size() == 2);
  CHECK(last->source.matrix == nullptr);
}

TEST_CASE("the first layer is given the loader's matrix as its kept input, in a Train forward only") {
  KeptLoader data(10);
  mlp::Sequential<float> model = probe_first_model(8);
  auto& first = dynamic_cast<KeptProbe<float>&>(model[0]);
  const auto batch = data.loader.next();
  REQUIRE(batch.has_value());
  model.forward(batch->source, mlp::Mode::Train);
  model.backward(mlp_test::random_matrix<float>(3, 5, 102));
  CHECK(first.in_forward == batch->source.matrix);
  CHECK(first.in_backward == batch->source.matrix);
  model.forward(batch->source, mlp::Mode::Eval);
  CHECK(first.in_forward == nullptr);
  model.forward(batch->x, mlp::Mode::Train);
  CHECK(first.in_forward == nullptr);  // a plain matrix belongs to the caller
  CHECK_THROWS_WITH_AS(model.forward_layer(1, batch->source, mlp::Mode::Train),
                       "Sequential::forward_layer(1) got the model's input, which layer 0 takes",
                       mlp::InvalidArgument);
}

TEST_CASE("the first layer refuses backward after the loader of its kept batch moved on") {
  KeptLoader data(15);
  mlp::Sequential<float> model = kept_image_model<float>(9);
  const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(4, 5, 103);
  const std::string message =
      "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)): backward reads the input of its last "
      "forward, the model's input, which its owner has changed since (a DataLoader's batch: next() or "
      "start_epoch() ran between the forward and the backward)";
  const auto batch = data.loader.next();
  model.forward(batch->source, mlp::Mode::Train);
  const auto stale = batch->source;
  const auto second = data.loader.next();
  CHECK_THROWS_WITH_AS(model.backward(dy), message.c_str(), mlp::RuntimeError);
  model.forward(second->source, mlp::Mode::Train);
  data.loader.start_epoch(1);
  CHECK_THROWS_WITH_AS(model.backward(dy), message.c_str(), mlp::RuntimeError);
  // A batch whose loader has moved on is refused before any forward.
  CHECK_THROWS_WITH_AS(model.forward(stale, mlp::Mode::Train),
                       "Sequential::forward got a versioned input that its owner has changed since (a DataLoader's "
                       "batch after the loader's next batch)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(model.forward(mlp::VersionedMatrix<float>{}, mlp::Mode::Train),
                       "Sequential::forward got a versioned input without a matrix or version (a Batch's source is "
                       "empty for a last partial batch: give its x)",
                       mlp::InvalidArgument);
  const auto third = data.loader.next();
  model.forward(third->source, mlp::Mode::Train);
  CHECK_NOTHROW(model.backward(dy));
  // A loader moved away between the forward and the backward leaves an empty matrix behind.
  const auto fourth = data.loader.next();
  model.forward(fourth->source, mlp::Mode::Train);
  const mlp::DataLoader<float> moved(std::move(data.loader));
  CHECK_THROWS_WITH_AS(model.backward(dy), message.c_str(), mlp::RuntimeError);
  CHECK(moved.size() == 15);
}

TEST_CASE("the first layer reads the loader's batch again in backward") {
  // Changing the loader's matrix behind its version (which nothing in the library does) shows in
  // the first convolution's weight gradient: it read the batch, not a copy.
  KeptLoader data(5);
  mlp::Sequential<float> model = kept_image_model<float>(10), reference = kept_image_model<float>(10);
  const mlp::Matrix<float> dy = mlp_test::random_matrix<float>(4, 5, 104);
  const auto batch = data.loader.next();
  model.forward(batch->source, mlp::Mode::Train);
  reference.forward(batch->x, mlp::Mode::Train);
  const_cast<mlp::Matrix<float>*>(batch->source.matrix)->array() += 0.5f;
  model.backward(dy);
  reference.backward(dy);
  CHECK(model.parameters()[0].grad_map() != reference.parameters()[0].grad_map());
  CHECK(model.parameters()[1].grad_map() == reference.parameters()[1].grad_map());  // the bias does not read x
}

TEST_CASE("the Trainer keeps a loader's full batch and refuses a batch whose source is not its x") {
  KeptLoader data(10);
  mlp::Sequential<float> model = probe_first_model(11);
  auto& first = dynamic_cast<KeptProbe<float>&>(model[0]);
  mlp::SGD<float> sgd(model.parameters(), {0.1});
  mlp::Trainer<float> trainer(model, sgd);
  const auto batch = data.loader.next();
  trainer.train_step(*batch);
  CHECK(first.in_forward == batch->source.matrix);
  CHECK(first.in_backward == batch->source.matrix);
  // A batch put together by hand: without a source it is copied; with another matrix's it is refused.
  const mlp::Matrix<float> other = mlp_test::random_matrix<float>(72, 5, 105);
  mlp::Batch<float> own{{other.data(), 72, 5}, {data.y.data(), 5}, 0};
  trainer.train_step(own);
  CHECK(first.in_forward == nullptr);
  own.source = batch->source;
  CHECK_THROWS_WITH_AS(trainer.train_step(own),
                       "Trainer: the batch's source is not its x as it is (a Batch has to come from its DataLoader's "
                       "next(), or leave source empty)",
                       mlp::InvalidArgument);
}
