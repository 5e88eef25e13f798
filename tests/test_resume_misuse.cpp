// Resume, checkpoints, loggers and callbacks used the wrong way, as the sixth hostile round did
// (2026-12-06): each case once changed or wrote something without a word; now it fails loudly, or
// leaves things as they were.
#include "helpers.hpp"

#include <mlp/io/model_file.hpp>
#include <mlp/layers/batchnorm.hpp>
#include <mlp/layers/dropout.hpp>
#include <mlp/model/layer_registry.hpp>
#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/train/checkpoint.hpp>
#include <mlp/train/csv_logger.hpp>
#include <mlp/train/early_stopping.hpp>
#include <mlp/train/tensorboard_logger.hpp>
#include <mlp/train/trainer.hpp>

#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

mlp::MlpSpec resume_misuse_spec() {
  mlp::MlpSpec spec;
  spec.inputs = 6;
  spec.hidden = {8};
  spec.classes = 3;
  spec.batch_norm = true;
  spec.dropout = 0.25;
  return spec;
}

struct ResumeMisuseData {
  mlp_test::Blobs train = mlp_test::make_blobs(96, 6, 3, 1, 1.5f), val = mlp_test::make_blobs(48, 6, 3, 2, 1.5f);
  mlp::DataLoader<float> train_loader{train.x, train.y, {16, true, false, 7}};
  mlp::DataLoader<float> val_loader{val.x, val.y, {48, false, false, 0}};
};

// A callback with a state of its own, which it can be told to refuse when it reads it back, or to
// write under a section name that is not its own.
struct StateCallback final : mlp::Callback<float> {
  std::string name() const override { return "state_callback"; }
  bool has_state() const override { return true; }
  void save_state(mlp::ContainerWriter& out, const std::string& prefix) const override {
    out.add_text(section.empty() ? prefix + "state" : section, {{"epochs", std::to_string(epochs)}});
    if (twice) out.add_text(prefix + "state", {});
  }
  void load_state(const mlp::ContainerReader& in, const std::string& prefix, const mlp::History&) override {
    const int read = std::stoi(in.value(prefix + "state", "epochs"));
    if (read == refuse) in.fail("has a state this callback refuses");
    epochs = read;
  }
  void on_epoch_end(mlp::TrainContext<float>&) override { ++epochs; }
  int epochs = 0;
  int refuse = -1;  // epochs it refuses to read back
  bool twice = false;
  std::string section;
};

// y = x, throwing once at its `at`-th forward (a user layer with a bug that shows now and then).
class ThrowOnce final : public mlp_test::PassThrough {
 public:
  explicit ThrowOnce(int at) : at_(at) {}
  std::string_view kind() const override { return "ResumeMisuseThrowOnce"; }

 protected:
  void seen(mlp::Mode mode) override {
    if (mode == mlp::Mode::Train && ++calls_ == at_) throw std::runtime_error("a layer's bug");
  }

 private:
  int at_, calls_ = 0;
};

// A layer whose tensor's length its config() does not say: built again from it, it holds 1 x 1.
class Gain final : public mlp_test::PassThrough {
 public:
  explicit Gain(mlp::Index n) : g_(mlp::Matrix<float>::Ones(n, 1)), dg_(mlp::Matrix<float>::Zero(n, 1)) {}
  std::string_view kind() const override { return "ResumeMisuseGain"; }
  std::vector<mlp::TensorRef<float>> parameters() override { return {mlp::tensor_ref<float>("gain", g_, &dg_, false)}; }

 private:
  mlp::Matrix<float> g_, dg_;
};

class EmptyKind final : public mlp_test::PassThrough {
 public:
  std::string_view kind() const override { return ""; }
};

bool same_state(const mlp::StateDict<float>& a, const mlp::StateDict<float>& b) {
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i].name == b[i].name && a[i].value == b[i].value;
  return same;
}

}  // namespace

TEST_CASE("a resume that fails half way leaves the model, the optimizer and the callbacks as they were") {
  mlp_test::TempDir dir("resume_misuse_half");
  ResumeMisuseData d;
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.mlpckpt");
  {
    mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {1e-2});
    mlp::Trainer<float> trainer(model, adam, options);
    mlp::EarlyStopping<float> early(5);
    StateCallback state;
    trainer.add_callback(early);
    trainer.add_callback(state);
    trainer.fit(d.train_loader, &d.val_loader, 2);
    REQUIRE(early.best_epoch() >= 1);
  }
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 2);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam, options);
  mlp::EarlyStopping<float> early(5);
  StateCallback state;
  state.refuse = 2;  // (read after the weights, the optimizer's state and early stopping's)
  trainer.add_callback(early);
  trainer.add_callback(state);
  const mlp::StateDict<float> before = model.state_dict();
  const auto randoms = model.random_states();
  CHECK_THROWS_WITH_AS(trainer.resume(options.checkpoint), doctest::Contains("has a state this callback refuses"),
                       mlp::IoError);
  CHECK(same_state(model.state_dict(), before));
  CHECK(model.random_states() == randoms);
  CHECK(adam.steps() == 0);
  CHECK(adam.state_dict().empty());
  CHECK(early.best_epoch() == 0);
  CHECK(early.best() == std::numeric_limits<double>::infinity());
  // A fresh run from here is the run from scratch, and its checkpoint resumes.
  state.refuse = -1;
  trainer.fit(d.train_loader, &d.val_loader, 1);
  CHECK(adam.steps() == trainer.step());
  mlp::Sequential<float> again = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 2);
  mlp::Adam<float> again_adam(again.parameters(), {1e-2});
  mlp::Trainer<float> resumed(again, again_adam, options);
  mlp::EarlyStopping<float> again_early(5);
  StateCallback again_state;
  resumed.add_callback(again_early);
  resumed.add_callback(again_state);
  CHECK_NOTHROW(resumed.resume(options.checkpoint));
  CHECK(again_state.epochs == 1);
}

TEST_CASE("a resume whose callbacks cannot take their own states back says so, with why it failed") {
  mlp_test::TempDir dir("resume_misuse_rollback");
  ResumeMisuseData d;
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.mlpckpt");
  mlp::EarlyStopping<float> reused(5);  // (trained under one Trainer, added to another)
  {
    mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {1e-2});
    mlp::Trainer<float> trainer(model, adam, options);
    StateCallback state;
    trainer.add_callback(reused);
    trainer.add_callback(state);
    trainer.fit(d.train_loader, &d.val_loader, 2);
  }
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam, options);
  StateCallback state;
  state.refuse = 2;
  trainer.add_callback(reused);
  trainer.add_callback(state);
  CHECK_THROWS_WITH_AS(trainer.resume(options.checkpoint),
                       doctest::Contains("has a state this callback refuses; and the state of callback 'early_stopping' ("),
                       mlp::RuntimeError);
  CHECK(adam.steps() == 0);
}

TEST_CASE("a monitor's saved best is refused for a monitor of another metric or mode") {
  mlp_test::TempDir dir("resume_misuse_monitor");
  ResumeMisuseData d;
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.mlpckpt");
  {
    mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {1e-2});
    mlp::Trainer<float> trainer(model, adam, options);
    mlp::EarlyStopping<float> early(5, mlp::Monitor("train_acc"));
    trainer.add_callback(early);
    trainer.fit(d.train_loader, &d.val_loader, 2);
  }
  // (early stopping then stopped a run whose val_loss fell every epoch: "did not improve on 0.229")
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam, options);
  mlp::EarlyStopping<float> early(5, mlp::Monitor("val_loss"));
  trainer.add_callback(early);
  CHECK_THROWS_WITH_AS(trainer.resume(options.checkpoint),
                       doctest::Contains("holds the state of a monitor of train_acc (max) in "
                                         "'callback.early_stopping.state', but this one minimizes val_loss"),
                       mlp::IoError);
  // A checkpoint from before monitors named their metric: the history tells them apart.
  std::string bytes = mlp::read_text_file(options.checkpoint);
  for (const std::string& key : {std::string("monitor_metric"), std::string("monitor_mode")}) {
    const auto at = bytes.find(key);
    REQUIRE(at != std::string::npos);
    bytes.replace(at, key.size(), std::string(key.size(), 'x'));
  }
  mlp_test::repair_container(bytes);
  mlp::write_file_atomically(options.checkpoint, bytes);
  CHECK_THROWS_WITH_AS(trainer.resume(options.checkpoint),
                       doctest::Contains("that its history does not show (another metric's monitor?)"), mlp::IoError);
  mlp::Sequential<float> same = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> same_adam(same.parameters(), {1e-2});
  mlp::Trainer<float> resumed(same, same_adam, options);
  mlp::EarlyStopping<float> same_early(5, mlp::Monitor("train_acc"));
  resumed.add_callback(same_early);
  CHECK_NOTHROW(resumed.resume(options.checkpoint));
  CHECK(same_early.best_epoch() >= 1);
}

TEST_CASE("BestCheckpoint over another model than the Trainer's is refused") {
  ResumeMisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Sequential<float> other = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 2);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam);
  mlp::BestCheckpoint<float> best(other);
  trainer.add_callback(best);
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("BestCheckpoint was made for another model than the Trainer trains"),
                       mlp::InvalidArgument);
  CHECK(trainer.step() == 0);
}

TEST_CASE("a new run's TensorBoard logger refuses a folder with another run's events, and never shares a file") {
  mlp_test::TempDir dir("resume_misuse_tensorboard");
  ResumeMisuseData d;
  const std::filesystem::path other = dir.path() / "events.out.tfevents.1.otherhost";
  mlp::write_file_atomically(other, "another run's events");
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam);
  mlp::TensorBoardLogger<float> logger(dir.path());
  trainer.add_callback(logger);
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("holds TensorBoard event files of another run ('events.out.tfevents.1.otherhost')"),
                       mlp::IoError);
  CHECK(mlp::read_text_file(other) == "another run's events");
  // (two loggers started in one second wrote one file name, and the second fit of one deleted the other's)
  mlp::History history;
  mlp::TrainContext<float> ctx{model, adam, history};
  mlp_test::TempDir a("resume_misuse_tensorboard_a"), b("resume_misuse_tensorboard_b");
  mlp::TensorBoardLogger<float> first(a.path()), second(b.path());
  first.on_train_begin(ctx);
  second.on_train_begin(ctx);
  CHECK(first.path().filename() != second.path().filename());
  CHECK(first.path().filename().string().find("." + std::to_string(::getpid()) + ".") != std::string::npos);
  // A fit() again after one that ended before its first epoch takes the logger's own file back.
  mlp_test::TempDir retry_dir("resume_misuse_tensorboard_retry");
  mlp::Sequential<float> failing = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 4);
  failing.add(std::make_unique<ThrowOnce>(3));
  mlp::Adam<float> failing_adam(failing.parameters(), {1e-2});
  mlp::Trainer<float> failing_trainer(failing, failing_adam);
  mlp::TensorBoardLogger<float> retry_logger(retry_dir.path());
  failing_trainer.add_callback(retry_logger);
  CHECK_THROWS_WITH_AS(failing_trainer.fit(d.train_loader, &d.val_loader, 1), "a layer's bug", std::runtime_error);
  CHECK_NOTHROW(failing_trainer.fit(d.train_loader, &d.val_loader, 1));
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(retry_dir.path())) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("save_checkpoint refuses a position resume() could not take") {
  mlp_test::TempDir dir("resume_misuse_position");
  ResumeMisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam);
  CHECK_THROWS_WITH_AS(trainer.save_checkpoint(dir.file("early.mlpckpt")),
                       doctest::Contains("save_checkpoint before fit() or resume()"), mlp::RuntimeError);
  // A callback that saves every third step: the sixth is the epoch's last batch.
  struct EveryThird final : mlp::Callback<float> {
    EveryThird(mlp::Trainer<float>& t, std::filesystem::path p) : trainer(t), path(std::move(p)) {}
    std::string name() const override { return "every_third"; }
    void on_batch_end(mlp::TrainContext<float>& ctx) override {
      if (ctx.step % 3 == 0) trainer.save_checkpoint(path);
    }
    mlp::Trainer<float>& trainer;
    std::filesystem::path path;
  } every_third(trainer, dir.file("steps.mlpckpt"));
  trainer.add_callback(every_third);
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("save_checkpoint after the last batch (6 of 6) of epoch 1, before the epoch's "
                                         "end (validation, its log, on_epoch_end): a checkpoint there could not be resumed"),
                       mlp::RuntimeError);
  // The one at step 3 resumes.
  mlp::Sequential<float> again = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> again_adam(again.parameters(), {1e-2});
  mlp::Trainer<float> resumed(again, again_adam);
  resumed.resume(dir.file("steps.mlpckpt"));
  CHECK(resumed.step() == 3);
}

TEST_CASE("a callback's state under another's section name, or written twice, is refused when it is written") {
  mlp_test::TempDir dir("resume_misuse_sections");
  ResumeMisuseData d;
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.mlpckpt");
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam, options);
  StateCallback state;
  trainer.add_callback(state);
  trainer.fit(d.train_loader, nullptr, 0);  // (the position: fit() gives it)
  for (const char* section : {"history", "trainer", "callback.early_stopping.state"}) {
    CAPTURE(section);
    state.section = section;
    CHECK_THROWS_WITH_AS(trainer.save_checkpoint(dir.file("x.mlpckpt")), doctest::Contains("section"),
                         mlp::RuntimeError);
  }
  state.section = "callback.early_stopping.state";
  CHECK_THROWS_WITH_AS(trainer.save_checkpoint(dir.file("x.mlpckpt")),
                       doctest::Contains("callback 'state_callback' wrote a checkpoint section "
                                         "'callback.early_stopping.state': a callback's sections start with the prefix "
                                         "'callback.state_callback.'"),
                       mlp::RuntimeError);
  state.section.clear();
  state.twice = true;
  CHECK_THROWS_WITH_AS(trainer.save_checkpoint(dir.file("x.mlpckpt")),
                       doctest::Contains("the section 'callback.state_callback.state' is written twice"),
                       mlp::RuntimeError);
  CHECK(!std::filesystem::exists(dir.file("x.mlpckpt")));
}

TEST_CASE("a step that throws puts back the running statistics and generators its forward pass moved") {
  ResumeMisuseData d;
  const auto model_with = [](int throw_at) {
    mlp::Sequential<float> m = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 4);
    m.add(std::make_unique<ThrowOnce>(throw_at));
    return m;
  };
  mlp::Sequential<float> plain = model_with(0), failing = model_with(3);
  mlp::Adam<float> plain_adam(plain.parameters(), {1e-2}), failing_adam(failing.parameters(), {1e-2});
  mlp::Trainer<float> plain_trainer(plain, plain_adam), failing_trainer(failing, failing_adam);
  plain_trainer.fit(d.train_loader, &d.val_loader, 2);
  mlp::DataLoader<float> loader{d.train.x, d.train.y, {16, true, false, 7}};
  CHECK_THROWS_WITH_AS(failing_trainer.fit(loader, &d.val_loader, 2), "a layer's bug", std::runtime_error);
  CHECK(failing_trainer.step() == 2);
  failing_trainer.fit(loader, &d.val_loader, 2);  // (a retry: the run without the exception, bit for bit)
  CHECK(same_state(failing.state_dict(), plain.state_dict()));
}

TEST_CASE("metric names that metrics.csv cannot hold are refused") {
  struct LogsEpoch final : mlp::Callback<float> {
    std::string name() const override { return "logs_epoch"; }
    std::vector<std::string> logged_metrics() const override { return {"epoch"}; }
  } logs_epoch;
  ResumeMisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam);
  trainer.add_callback(logs_epoch);
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("logs metric 'epoch', which is the log's epoch column"), mlp::InvalidArgument);
  // Written into the history by hand: a header split over two lines, or a column more.
  for (const char* name : {"bad\nname", "f1, macro", "", "val_loss", "epoch"}) {
    CAPTURE(name);
    mlp::History history;
    history.epochs.emplace_back();
    history.epochs.back().epoch = 1;
    history.epochs.back().custom[name] = 1.0;
    CHECK_THROWS_WITH_AS(mlp::metrics_csv(history), doctest::Contains("which cannot be a column"), mlp::InvalidArgument);
  }
}

TEST_CASE("a layer whose config() does not give its tensors' shapes, or whose kind is empty, is refused") {
  mlp::register_layer<float>("ResumeMisuseGain", [](const mlp::LayerConfig&) -> std::unique_ptr<mlp::Layer<float>> {
    return std::make_unique<Gain>(1);
  });
  mlp_test::TempDir dir("resume_misuse_gain");
  mlp::Sequential<float> model(mlp::Shape::flat(4));
  model.add(std::make_unique<Gain>(4));
  CHECK_THROWS_WITH_AS(mlp::save_model(dir.file("m.mlp"), model),
                       doctest::Contains("layer 0 (ResumeMisuseGain) holds gain 4 x 1, but the layer its config() "
                                         "builds (as loading the file would) holds gain 1 x 1"),
                       mlp::InvalidArgument);
  CHECK(!std::filesystem::exists(dir.file("m.mlp")));
  mlp::Sequential<float> fits(mlp::Shape::flat(1));
  fits.add(std::make_unique<Gain>(1));
  mlp::save_model(dir.file("fits.mlp"), fits);
  CHECK(mlp::load_model<float>(dir.file("fits.mlp")).model.size() == 1);
  mlp::Sequential<float> empty(mlp::Shape::flat(4));
  CHECK_THROWS_WITH_AS(empty.add(std::make_unique<EmptyKind>()), doctest::Contains("has an empty kind()"),
                       mlp::InvalidArgument);
}

TEST_CASE("a callback's name that a checkpoint's list could not hold, and an event file removed mid-run, are named") {
  struct Named final : mlp::Callback<float> {
    explicit Named(std::string n) : n_(std::move(n)) {}
    std::string name() const override { return n_; }
    std::string n_;
  };
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(resume_misuse_spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam);
  for (const char* bad : {"", "early_stopping,best_checkpoint"}) {
    CAPTURE(bad);
    Named named(bad);
    CHECK_THROWS_WITH_AS(trainer.add_callback(named), doctest::Contains("must not be empty or hold a comma"),
                         mlp::InvalidArgument);
  }
  mlp_test::TempDir dir("resume_misuse_removed_events");
  mlp::History history;
  mlp::TrainContext<float> ctx{model, adam, history};
  mlp::TensorBoardLogger<float> logger(dir.path());
  logger.on_train_begin(ctx);
  std::filesystem::remove(logger.path());
  history.epochs.emplace_back();
  history.epochs.back().epoch = 1;
  ctx.log = &history.epochs.back();
  CHECK_THROWS_WITH_AS(logger.on_epoch_end(ctx), doctest::Contains("was removed during training"), mlp::IoError);
  CHECK(!std::filesystem::exists(logger.path()));
}
