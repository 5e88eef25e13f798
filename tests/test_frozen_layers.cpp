// Frozen layers: an optimizer built from some of a model's parameters trains those and leaves the
// others as they are, as a PyTorch optimizer given some parameters does (fine-tuning a trained trunk).
#include "helpers.hpp"

#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/sgd.hpp>
#include <mlp/train/trainer.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace {

// 6 - Linear 16 - BatchNorm - ReLU - Linear 8 - BatchNorm - ReLU - Linear 3: layers 0 to 6.
mlp::MlpSpec frozen_spec() {
  mlp::MlpSpec s;
  s.inputs = 6;
  s.hidden = {16, 8};
  s.classes = 3;
  s.batch_norm = true;
  return s;
}

struct FrozenData {
  mlp_test::Blobs train = mlp_test::make_blobs(192, 6, 3, 1, 1.5f), val = mlp_test::make_blobs(96, 6, 3, 2, 1.5f);
  mlp::DataLoader<float> train_loader{train.x, train.y, {32, true, false, 42}};
  mlp::DataLoader<float> val_loader{val.x, val.y, {1000, false, false, 0}};
};

// Trains a fresh model (seed 3) for `epochs` epochs with the optimizer `make` builds from its layers
// `first` on, writing the checkpoint of `options` after every epoch.
template <class Make>
void train_frozen(FrozenData& d, std::size_t first, Make make, const mlp::TrainerOptions& options, int epochs) {
  mlp::ParameterizedMLP<float> model(frozen_spec(), 3);
  auto optimizer = make(model.parameters_of_layers(first, model.size()));
  mlp::Trainer<float> trainer(model, optimizer, options);
  trainer.fit(d.train_loader, &d.val_loader, epochs);
}

// Whether the tensors whose names start with `prefix` are the same bits in both (mlp_test::same_state).
bool same_tensors(const mlp::StateDict<float>& a, const mlp::StateDict<float>& b, const std::string& prefix) {
  const auto starting_with = [&prefix](const mlp::StateDict<float>& state) {
    mlp::StateDict<float> some;
    for (const auto& t : state) {
      if (t.name.rfind(prefix, 0) == 0) some.push_back(t);
    }
    return some;
  };
  return mlp_test::same_state(starting_with(a), starting_with(b));
}

}  // namespace

TEST_CASE("parameters_of_layers gives some layers' parameters, named as in parameters()") {
  mlp::ParameterizedMLP<float> model(frozen_spec(), 1);
  const auto head = model.parameters_of_layers(6, 7);
  REQUIRE(head.size() == 2);
  CHECK(head[0].name == "6.weight");
  CHECK(head[1].name == "6.bias");
  CHECK(model.parameters_of_layers(0, model.size()).size() == model.parameters().size());
  CHECK(model.parameters_of_layers(2, 3).empty());  // a ReLU
  CHECK_THROWS_WITH_AS(model.parameters_of_layers(3, 3), "parameters_of_layers(3, 3): expected 0 <= first < end <= 7 "
                       "(the model's layers)", mlp::InvalidArgument);
  CHECK_THROWS_AS(model.parameters_of_layers(0, 8), mlp::InvalidArgument);
}

TEST_CASE("an optimizer of some layers trains those only; the gradients are the whole model's") {
  FrozenData d;
  mlp::ParameterizedMLP<float> frozen(frozen_spec(), 1), whole(frozen_spec(), 1);
  const mlp::StateDict<float> start = frozen.state_dict();
  mlp::Adam<float> head_only(frozen.parameters_of_layers(3, frozen.size()), {1e-2});
  mlp::Adam<float> all(whole.parameters(), {1e-2});
  mlp::Trainer<float> frozen_trainer(frozen, head_only), whole_trainer(whole, all);

  // One step from the same start: the trained layers' tensors are the same bits in both models
  // (Adam updates each tensor from its own gradient), the frozen ones moved only in `whole`.
  d.train_loader.start_epoch(0);
  const mlp::Batch<float> batch = *d.train_loader.next();
  frozen_trainer.train_step(batch);
  whole_trainer.train_step(batch);
  const auto after_frozen = frozen.state_dict(), after_whole = whole.state_dict();
  for (std::size_t i = 0; i < start.size(); ++i) {
    const std::string& name = start[i].name;
    INFO(name);
    const bool trunk = name.rfind("0.", 0) == 0 || name.rfind("1.", 0) == 0;
    if (name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos) {
      // BatchNorm's running statistics are not parameters: a Train-mode pass moves them, frozen or
      // not (as in PyTorch, where a frozen module in train() mode updates them too)
      CHECK(after_frozen[i].value == after_whole[i].value);
      continue;
    }
    if (trunk) {
      CHECK(after_frozen[i].value == start[i].value);
      CHECK(after_whole[i].value != start[i].value);
    } else {
      CHECK(after_frozen[i].value == after_whole[i].value);
      CHECK(after_frozen[i].value != start[i].value);
    }
  }

  // Whole epochs: the trunk stays as it started, the head trains.
  frozen_trainer.fit(d.train_loader, &d.val_loader, 3);
  CHECK(same_tensors(frozen.state_dict(), start, "0."));
  CHECK(same_tensors(frozen.state_dict(), start, "1.weight"));
  CHECK(same_tensors(frozen.state_dict(), start, "1.bias"));
  CHECK_FALSE(same_tensors(frozen.state_dict(), start, "6."));
}

TEST_CASE("a run with frozen layers resumes bit for bit, and only with an optimizer of the same layers") {
  FrozenData d;
  mlp_test::TempDir dir("frozen_resume");
  mlp::TrainerOptions options;
  options.checkpoint = dir.path() / "run.mlpckpt";

  mlp::ParameterizedMLP<float> straight(frozen_spec(), 3);
  mlp::Adam<float> straight_adam(straight.parameters_of_layers(4, straight.size()), {1e-2});
  mlp::Trainer<float> straight_trainer(straight, straight_adam);
  straight_trainer.fit(d.train_loader, &d.val_loader, 3);

  const auto make_adam = [](std::vector<mlp::TensorRef<float>> p) { return mlp::Adam<float>(std::move(p), {1e-2}); };
  train_frozen(d, 4, make_adam, options, 2);
  {
    mlp::ParameterizedMLP<float> resumed(frozen_spec(), 3);
    mlp::Adam<float> adam(resumed.parameters_of_layers(4, resumed.size()), {1e-2});
    mlp::Trainer<float> trainer(resumed, adam, options);
    trainer.resume(options.checkpoint);
    trainer.fit(d.train_loader, &d.val_loader, 3);
    CHECK(mlp_test::same_state(resumed.state_dict(), straight.state_dict()));
  }
  {
    // An optimizer of other layers is refused, nothing changed.
    mlp::ParameterizedMLP<float> other(frozen_spec(), 3);
    mlp::Adam<float> adam(other.parameters(), {1e-2});
    mlp::Trainer<float> trainer(other, adam, options);
    CHECK_THROWS_WITH_AS(trainer.resume(options.checkpoint),
                         doctest::Contains("was written training the tensors [4.weight,4.bias,6.weight,6.bias], but "
                                           "this optimizer holds [0.weight,0.bias,1.weight,1.bias,3.weight,3.bias,"
                                           "4.weight,4.bias,6.weight,6.bias]; build it from the same layers"),
                         mlp::IoError);
    CHECK(mlp_test::same_state(other.state_dict(), mlp::ParameterizedMLP<float>(frozen_spec(), 3).state_dict()));
  }
}

TEST_CASE("an optimizer without state resumes only with the layers it trained") {
  // (SGD without momentum has no state that names its tensors: a checkpoint of a run with frozen
  // layers resumed with an optimizer of every layer and trained the frozen ones)
  FrozenData d;
  mlp_test::TempDir dir("frozen_sgd");
  mlp::TrainerOptions options;
  options.checkpoint = dir.path() / "run.mlpckpt";
  train_frozen(d, 6, [](std::vector<mlp::TensorRef<float>> p) { return mlp::SGD<float>(std::move(p), {0.1}); }, options, 1);
  mlp::ParameterizedMLP<float> model(frozen_spec(), 3);
  {
    mlp::SGD<float> sgd(model.parameters(), {0.1});
    mlp::Trainer<float> trainer(model, sgd, options);
    CHECK_THROWS_WITH_AS(trainer.resume(options.checkpoint),
                         doctest::Contains("was written training the tensors [6.weight,6.bias], but this optimizer "
                                           "holds [0.weight"),
                         mlp::IoError);
  }
  mlp::SGD<float> same(model.parameters_of_layers(6, model.size()), {0.1});
  mlp::Trainer<float> trainer(model, same, options);
  CHECK_NOTHROW(trainer.resume(options.checkpoint));
}

TEST_CASE("an optimizer of tensors that are not the model's, out of its order, twice or none is refused") {
  mlp::ParameterizedMLP<float> model(frozen_spec(), 1), other(frozen_spec(), 2);
  const std::string how = "build it from model.parameters(), or from model.parameters_of_layers(first, end) to train "
                          "some layers only";
  {
    mlp::Adam<float> adam(other.parameters_of_layers(6, 7), {});
    CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, adam),
                         ("Trainer: the optimizer does not hold this model's parameters: its tensor '6.weight' (2 "
                          "tensors) is not one of the model's 10, or is not in the model's order, or comes twice; " + how)
                             .c_str(),
                         mlp::InvalidArgument);
  }
  {
    auto reversed = model.parameters_of_layers(3, 7);
    std::reverse(reversed.begin(), reversed.end());
    mlp::Adam<float> adam(reversed, {});
    CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, adam), doctest::Contains("its tensor '6.weight' (6 tensors)"),
                         mlp::InvalidArgument);
  }
  {
    auto twice = model.parameters_of_layers(6, 7);
    twice.push_back(twice.back());
    mlp::Adam<float> adam(twice, {});
    CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, adam), doctest::Contains("its tensor '6.bias' (3 tensors)"),
                         mlp::InvalidArgument);
  }
  {
    mlp::Adam<float> adam(model.parameters_of_layers(2, 3), {});
    CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, adam),
                         "Trainer: the optimizer holds no tensor, so nothing would train (layers without parameters "
                         "given to parameters_of_layers?)",
                         mlp::InvalidArgument);
  }
}
