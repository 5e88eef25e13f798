// The library's API used the wrong way, as a hostile tester did (2026-12-06): each case once crashed,
// read freed memory or gave wrong numbers without a word; now each fails loudly, naming what is wrong.
#include "helpers.hpp"

#include <mlp/io/model_file.hpp>
#include <mlp/model/layer_registry.hpp>
#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/schedulers.hpp>
#include <mlp/train/checkpoint.hpp>
#include <mlp/train/csv_logger.hpp>
#include <mlp/train/early_stopping.hpp>
#include <mlp/train/trainer.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using mlp_test::make_blobs;

namespace {

mlp::MlpSpec tiny_spec() {
  mlp::MlpSpec spec;
  spec.inputs = 6;
  spec.hidden = {8};
  spec.classes = 3;
  return spec;
}

// A user's layer y = a x with one scalar parameter, whose output shape, dL/dx shape, tensor names and
// kind a test may get wrong on purpose.
class ScaleLayer final : public mlp::Layer<float> {
 public:
  explicit ScaleLayer(std::string kind = "TestScale", std::string second_name = "", std::string first_name = "a")
      : kind_(std::move(kind)), second_name_(std::move(second_name)), first_name_(std::move(first_name)) {
    a_.setConstant(2.0f);
    b_.setConstant(1.0f);
  }
  std::string_view kind() const override { return kind_; }
  std::vector<mlp::TensorRef<float>> parameters() override {
    std::vector<mlp::TensorRef<float>> list{mlp::tensor_ref<float>(first_name_, a_, &da_, false)};
    if (!second_name_.empty()) list.push_back(mlp::tensor_ref<float>(second_name_, b_, &db_, false));
    return list;
  }
  int extra_rows = 0, extra_dx_rows = 0;

 protected:
  const mlp::Matrix<float>& forward_impl(const Eigen::Ref<const mlp::Matrix<float>>& x, mlp::Mode) override {
    x_ = x;
    y_ = a_(0, 0) * x;
    if (extra_rows > 0) y_.conservativeResize(y_.rows() + extra_rows, Eigen::NoChange);
    return y_;
  }
  const mlp::Matrix<float>& backward_impl(const Eigen::Ref<const mlp::Matrix<float>>& dy) override {
    da_(0, 0) = (dy.array() * x_.array()).sum();
    dx_ = a_(0, 0) * dy;
    if (extra_dx_rows > 0) dx_.conservativeResize(dx_.rows() + extra_dx_rows, Eigen::NoChange);
    return dx_;
  }

 private:
  std::string kind_, second_name_, first_name_;
  mlp::Matrix<float> a_{1, 1}, da_{1, 1}, b_{1, 1}, db_{1, 1}, x_, y_, dx_;
};

struct MisuseData {
  mlp_test::Blobs train = make_blobs(96, 6, 3, 1, 1.5f), val = make_blobs(48, 6, 3, 2, 1.5f);
  mlp::DataLoader<float> train_loader{train.x, train.y, {16, true, false, 7}};
  mlp::DataLoader<float> val_loader{val.x, val.y, {48, false, false, 0}};
};

// (one counter for every Hook<F>: callbacks of a trainer need names of their own)
std::string next_hook_name() {
  static int count = 0;
  return "hook_" + std::to_string(++count);
}

template <class F>
struct Hook final : mlp::Callback<float> {
  explicit Hook(F f, const char* hook) : f_(std::move(f)), hook_(hook), name_(next_hook_name()) {}
  std::string name() const override { return name_; }
  void on_train_begin(mlp::TrainContext<float>& c) override { run("on_train_begin", c); }
  void on_epoch_begin(mlp::TrainContext<float>& c) override { run("on_epoch_begin", c); }
  void on_batch_end(mlp::TrainContext<float>& c) override { run("on_batch_end", c); }
  void on_epoch_end(mlp::TrainContext<float>& c) override { run("on_epoch_end", c); }

 private:
  void run(const std::string& hook, mlp::TrainContext<float>& c) {
    if (hook == hook_) f_(c);
  }
  F f_;
  std::string hook_, name_;
};
template <class F>
Hook<F> hook(const char* at, F f) {
  return Hook<F>(std::move(f), at);
}

struct NamedMetric final : mlp::Metric<float> {
  explicit NamedMetric(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void reset() override {}
  void update(const Eigen::Ref<const mlp::Matrix<float>>&, const Eigen::Ref<const mlp::Labels>&) override {}
  double compute() const override { return 123.0; }
  std::string name_;
};

}  // namespace

TEST_CASE("a model replaced after its optimizer and Trainer were made is refused, not read after it was freed") {
  mlp_test::TempDir dir("api_misuse");
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  mlp::Trainer<float> trainer(model, optimizer);
  trainer.fit(d.train_loader, &d.val_loader, 1);
  mlp::save_model(dir.file("m.mlp"), model);
  model = mlp::load_model<float>(dir.file("m.mlp")).model;  // the layers the optimizer points into are freed
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 2),
                       doctest::Contains("Trainer: the model no longer holds the parameters the Trainer was made with"),
                       mlp::RuntimeError);
  CHECK_THROWS_WITH_AS(optimizer.step(),
                       doctest::Contains("optimizer: parameter '0.weight' belongs to a layer that no longer exists"),
                       mlp::RuntimeError);
  // load_model_into keeps the layers: then training goes on.
  mlp::Sequential<float> kept = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> kept_optimizer(kept.parameters(), {1e-3});
  mlp::Trainer<float> kept_trainer(kept, kept_optimizer);
  mlp::load_model_into(dir.file("m.mlp"), kept);
  CHECK(kept_trainer.fit(d.train_loader, &d.val_loader, 1).epochs.size() == 1);
}

TEST_CASE("a Trainer refuses an empty model, a model moved from, and layers added after it was made") {
  MisuseData d;
  mlp::Sequential<float> empty;
  mlp::Adam<float> none(empty.parameters(), {1e-3});
  CHECK_THROWS_WITH_AS(mlp::Trainer<float>(empty, none), "Trainer: the model has no layers", mlp::InvalidArgument);
  mlp::Sequential<float> relu_only(mlp::Shape::flat(6));
  relu_only.emplace<mlp::ReLU<float>>();
  CHECK_THROWS_WITH_AS(mlp::Trainer<float>(relu_only, none), "Trainer: the model has no parameters to train",
                       mlp::InvalidArgument);

  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  mlp::Trainer<float> trainer(model, optimizer);
  mlp::Sequential<float> other = std::move(model);  // (fit trained an empty model: 6 "classes" of logits)
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("(4 tensors then, 0 now: layers added, removed or replaced, the model moved "
                                         "from or assigned, or a layer that made its tensors after the Trainer was made "
                                         "(a layer makes them when it is built)"),
                       mlp::RuntimeError);

  mlp::Sequential<float> grown = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> grown_optimizer(grown.parameters(), {1e-3});
  mlp::Trainer<float> grown_trainer(grown, grown_optimizer);
  auto add_layer = hook("on_epoch_end", [&](mlp::TrainContext<float>&) {
    if (grown.size() == 3) grown.add(std::make_unique<ScaleLayer>());
  });
  grown_trainer.add_callback(add_layer);
  CHECK_THROWS_WITH_AS(grown_trainer.fit(d.train_loader, &d.val_loader, 3),
                       doctest::Contains("(4 tensors then, 5 now"), mlp::RuntimeError);
  CHECK(grown_trainer.epochs_done() == 1);  // refused before the second epoch's first step

  // In the middle of an epoch: refused at the next step.
  mlp::Sequential<float> mid = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> mid_optimizer(mid.parameters(), {1e-3});
  mlp::Trainer<float> mid_trainer(mid, mid_optimizer);
  auto add_mid = hook("on_batch_end", [&](mlp::TrainContext<float>& c) {
    if (c.batch == 2) mid.add(std::make_unique<ScaleLayer>());
  });
  mid_trainer.add_callback(add_mid);
  CHECK_THROWS_WITH_AS(mid_trainer.fit(d.train_loader, &d.val_loader, 1), doctest::Contains("(3 layers then, 4 now"),
                       mlp::RuntimeError);
  CHECK(mid_trainer.step() == 2);
}

TEST_CASE("a DataLoader checks its data set, and refuses data resized under it") {
  mlp::Dataset bad;
  bad.name = "bad";
  bad.shape = {1, 28, 28};
  bad.pixels = mlp::Pixels::Zero(1568, 4);  // (read past the lookup table's channel)
  bad.labels = mlp::Labels::Zero(4);
  bad.class_names = {"a", "b"};
  const mlp::Standardizer standardizer{784, {0.5}, {0.25}};
  CHECK_THROWS_WITH_AS(mlp::DataLoader<float>(bad, {0, 1}, standardizer, {2, false, false, 0}),
                       "bad: images have 1568 values but the shape 1 x 28 x 28 needs 784", mlp::InvalidArgument);
  bad.pixels = mlp::Pixels::Zero(784, 4);
  bad.labels = mlp::Labels::Zero(3);  // (read past the labels)
  CHECK_THROWS_WITH_AS(mlp::DataLoader<float>(bad, {0, 1}, standardizer, {2, false, false, 0}), "bad: 4 images but 3 labels",
                       mlp::InvalidArgument);

  mlp::Matrix<float> x = mlp::Matrix<float>::Zero(6, 10);
  mlp::Labels y = mlp::Labels::Zero(10);
  mlp::DataLoader<float> loader(x, y, {4, false, false, 0});
  CHECK(loader.next().has_value());
  x.resize(6, 2);
  CHECK_THROWS_WITH_AS(loader.next(),
                       "DataLoader: its data changed size after the loader was made (6 x 10 with 10 labels then, 6 x 2 "
                       "with 10 labels now); make a new loader",
                       mlp::RuntimeError);
}

TEST_CASE("a user's layer with two tensors of one name, another's kind, or outputs of the wrong shape is refused") {
  mlp_test::TempDir dir("api_misuse_layers");
  mlp::Sequential<float> model(mlp::Shape::flat(6));
  CHECK_THROWS_WITH_AS(model.add(std::make_unique<ScaleLayer>("TestScale", "a")),
                       "TestScale names two of its tensors 'a': each needs a name of its own", mlp::InvalidArgument);
  CHECK(model.size() == 0);
  CHECK_THROWS_WITH_AS(model.add(std::make_unique<ScaleLayer>("TestScale", "", "")), "TestScale has a tensor without a name",
                       mlp::InvalidArgument);

  // A layer of its own whose kind() says "Linear" was loaded back as a built-in Linear.
  model.add(std::make_unique<ScaleLayer>("Linear"));
  CHECK_THROWS_WITH_AS(mlp::save_model(dir.file("m.mlp"), model),
                       doctest::Contains("says its kind is 'Linear', but that kind is registered for another class"),
                       mlp::InvalidArgument);

  mlp::Sequential<float> shapes(mlp::Shape::flat(6));
  auto& scale = static_cast<ScaleLayer&>(shapes.add(std::make_unique<ScaleLayer>()));
  shapes.emplace<mlp::ReLU<float>>();
  const mlp::Matrix<float> x = mlp::Matrix<float>::Ones(6, 5);
  scale.extra_rows = 1;  // (blamed on the ReLU after it)
  CHECK_THROWS_WITH_AS(shapes.forward(x, mlp::Mode::Train),
                       "TestScale's forward returned 7 x 5, but its output is 6 features (6 values) per sample for 5 samples",
                       mlp::RuntimeError);
  scale.extra_rows = 0;
  scale.extra_dx_rows = 2;
  shapes.set_input_grad(true);
  shapes.forward(x, mlp::Mode::Train);
  CHECK_THROWS_WITH_AS(shapes.backward(mlp::Matrix<float>::Ones(6, 5)),
                       "TestScale's backward returned dL/dx of 8 x 5, but its input is 6 x 5 (or an empty matrix when "
                       "input gradients are off)",
                       mlp::RuntimeError);
}

TEST_CASE("a layer template registered for one scalar type only is not half registered by register_layer") {
  mlp::register_layer<float>("TestHalfRegistered", [](const mlp::LayerConfig&) -> std::unique_ptr<mlp::Layer<float>> {
    return std::make_unique<ScaleLayer>("TestHalfRegistered");
  });
  CHECK_THROWS_WITH_AS(mlp::register_layer<mlp::ReLU>("TestHalfRegistered"),
                       "layer kind 'TestHalfRegistered' is already registered", mlp::InvalidArgument);
  CHECK_FALSE(mlp::LayerRegistry<double>::instance().contains("TestHalfRegistered"));
}

TEST_CASE("metric names, validation loaders and callbacks that use the training loader are checked by fit") {
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  {
    mlp::Trainer<float> trainer(model, optimizer);
    NamedMetric loss("loss");  // (a second val_loss column)
    trainer.add_metric(loss);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                         "metric 'loss' would be logged as 'val_loss', which the run already has; give it another name",
                         mlp::InvalidArgument);
  }
  {
    mlp::Trainer<float> trainer(model, optimizer);
    NamedMetric first("x"), second("x");  // (the first value was lost)
    trainer.add_metric(first);
    trainer.add_metric(second);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1), doctest::Contains("metric 'x' would be logged as 'val_x'"),
                         mlp::InvalidArgument);
  }
  {
    mlp::Trainer<float> trainer(model, optimizer);
    mlp::DataLoader<float> no_batch(d.val.x, d.val.y, {100, false, true, 0});  // 48 samples, the last batch dropped
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &no_batch, 1),
                         "the validation loader gives no batch (48 samples in batches of 100, the last one dropped)",
                         mlp::InvalidArgument);
    CHECK(trainer.step() == 0);
  }
  {
    mlp::Trainer<float> trainer(model, optimizer);
    auto evaluate_on_train = hook("on_batch_end", [&](mlp::TrainContext<float>&) { mlp::evaluate(model, d.train_loader); });
    trainer.add_callback(evaluate_on_train);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 2),
                         "a callback used the training loader in on_batch_end (evaluate or next() on it) at batch 1 of "
                         "epoch 1; evaluate on a loader of its own",
                         mlp::RuntimeError);
  }
  {
    // Validating on the training data itself is fine (an overfitting check): fit starts each epoch over.
    mlp::Trainer<float> trainer(model, optimizer);
    CHECK(trainer.fit(d.train_loader, &d.train_loader, 2).epochs.size() == 2);
  }
}

TEST_CASE("a monitored metric that a callback logs in some epochs only names the callback that needs it") {
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  struct EvenEpochScore final : mlp::Callback<float> {
    std::string name() const override { return "even_epoch_score"; }
    std::vector<std::string> logged_metrics() const override { return {"score"}; }
    void on_epoch_end(mlp::TrainContext<float>& ctx) override {
      if (ctx.log->epoch % 2 == 0) ctx.log_metric("score", 1.0 / ctx.log->epoch);
    }
  };
  EvenEpochScore score;
  mlp::EarlyStopping<float> stopping(3, mlp::Monitor("score", mlp::MonitorMode::Max));
  mlp::BestCheckpoint<float> best(model, {}, mlp::Monitor("score", mlp::MonitorMode::Max));
  for (mlp::Callback<float>* watcher : std::vector<mlp::Callback<float>*>{&stopping, &best}) {
    mlp::Trainer<float> trainer(model, optimizer);
    trainer.add_callback(score);
    trainer.add_callback(*watcher);
    // (it failed as "unknown metric 'score' (epoch 1 has ...)", naming no callback)
    const std::string expected = "callback '" + watcher->name() + "' monitors 'score', but epoch 1's log does not "
                                 "have it: a monitored metric has to be logged at the end of every epoch (this one has";
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 2), doctest::Contains(expected.c_str()),
                         mlp::RuntimeError);
  }
}

TEST_CASE("two writers of one file are refused before training: callbacks and the Trainer's checkpoint") {
  MisuseData d;
  mlp_test::TempDir dir("two_writers");
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  {
    // (the CSV table replaced the best model, every epoch)
    std::filesystem::create_directories(dir.path() / "sub");
    mlp::Trainer<float> trainer(model, optimizer);
    mlp::BestCheckpoint<float> best(model, dir.path() / "best.mlp");
    mlp::CsvLogger<float> csv(dir.path() / "sub" / ".." / "best.mlp");
    trainer.add_callback(best);
    trainer.add_callback(csv);
    const std::string expected = "callback 'csv_logger' writes '" + (dir.path() / "sub" / ".." / "best.mlp").string() +
                                 "', which callback 'best_checkpoint' writes too: give each its own file";
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1), expected.c_str(), mlp::InvalidArgument);
    CHECK(trainer.step() == 0);
    CHECK_FALSE(std::filesystem::exists(dir.path() / "best.mlp"));
  }
  {
    mlp::TrainerOptions options;
    options.checkpoint = dir.path() / "run.ckpt";
    mlp::Trainer<float> trainer(model, optimizer, options);
    mlp::CsvLogger<float> csv(dir.path() / "run.ckpt");
    trainer.add_callback(csv);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                         doctest::Contains("which the Trainer's checkpoint option writes too"), mlp::InvalidArgument);
  }
  {
    // A symbolic link as the file is replaced by an atomic write, not written through: no clash.
    std::filesystem::create_symlink(dir.path() / "best.mlp", dir.path() / "link.csv");
    mlp::Trainer<float> trainer(model, optimizer);
    mlp::BestCheckpoint<float> best(model, dir.path() / "best.mlp");
    mlp::CsvLogger<float> csv(dir.path() / "link.csv");
    trainer.add_callback(best);
    trainer.add_callback(csv);
    CHECK_NOTHROW(trainer.fit(d.train_loader, &d.val_loader, 1));
  }
  {
    // A symbolic link to the folder is followed.
    std::filesystem::create_directory_symlink(dir.path(), dir.path() / "same");
    mlp::Trainer<float> trainer(model, optimizer);
    mlp::BestCheckpoint<float> best(model, dir.path() / "best.mlp");
    mlp::CsvLogger<float> csv(dir.path() / "same" / "best.mlp");
    trainer.add_callback(best);
    trainer.add_callback(csv);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                         doctest::Contains("which callback 'best_checkpoint' writes too"), mlp::InvalidArgument);
  }
  {
    // Files of their own: training runs.
    mlp::Trainer<float> trainer(model, optimizer);
    mlp::BestCheckpoint<float> best(model, dir.path() / "best.mlp");
    mlp::CsvLogger<float> csv(dir.path() / "metrics.csv");
    trainer.add_callback(best);
    trainer.add_callback(csv);
    CHECK(trainer.fit(d.train_loader, &d.val_loader, 1).epochs.size() == 1);
    CHECK(std::filesystem::exists(dir.path() / "best.mlp"));
  }
}

TEST_CASE("stops and learning-rate scales from any hook take effect before the next step, and are checked") {
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  for (const char* at : {"on_train_begin", "on_epoch_begin"}) {
    CAPTURE(at);
    mlp::Trainer<float> trainer(model, optimizer);
    auto stopper = hook(at, [](mlp::TrainContext<float>& c) { c.request_stop("enough"); });
    trainer.add_callback(stopper);
    const mlp::History h = trainer.fit(d.train_loader, &d.val_loader, 3);
    CHECK(trainer.step() == 0);  // (on_epoch_begin's stop ran a step first; on_train_begin's reason was lost)
    CHECK(h.stopped_early);
    CHECK(h.stop_reason == "enough (requested before epoch 1)");
  }
  {
    // (ctx.lr_scale set in on_batch_end was taken only at the epoch's end)
    mlp::Trainer<float> trainer(model, optimizer);
    auto halve = hook("on_batch_end", [](mlp::TrainContext<float>& c) {
      if (c.batch == 2) c.lr_scale = 0.5;
    });
    std::vector<double> rates;
    auto record = hook("on_batch_end", [&](mlp::TrainContext<float>& c) { rates.push_back(c.lr); });
    trainer.add_callback(halve);
    trainer.add_callback(record);
    trainer.fit(d.train_loader, &d.val_loader, 1);
    CHECK(rates == std::vector<double>{1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4});
  }
  // From 0 to 1, the range a checkpoint holds (2 or NaN would have made a run that cannot be resumed).
  for (const double bad : {std::nan(""), -0.5, 2.0}) {
    CAPTURE(bad);
    mlp::Trainer<float> trainer(model, optimizer);
    auto bad_scale = hook("on_epoch_end", [bad](mlp::TrainContext<float>& c) { c.lr_scale = bad; });
    trainer.add_callback(bad_scale);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 2),
                         doctest::Contains(" in on_epoch_end (it scales the schedule's rate down: from 0 to 1)"),
                         mlp::InvalidArgument);
  }
  {
    mlp_test::TempDir dir("api_misuse_scale");
    mlp::TrainerOptions options;
    options.checkpoint = dir.file("run.mlpckpt");
    mlp::Sequential<float> fresh = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
    mlp::Adam<float> fresh_optimizer(fresh.parameters(), {1e-3});
    mlp::Trainer<float> trainer(fresh, fresh_optimizer, options);
    auto freeze = hook("on_epoch_end", [](mlp::TrainContext<float>& c) { c.lr_scale = 0.0; });
    trainer.add_callback(freeze);
    trainer.fit(d.train_loader, &d.val_loader, 1);
    mlp::Sequential<float> again = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
    mlp::Adam<float> again_optimizer(again.parameters(), {1e-3});
    mlp::Trainer<float> resumed(again, again_optimizer, options);
    auto freeze_again = hook("on_epoch_end", [](mlp::TrainContext<float>& c) { c.lr_scale = 0.0; });
    resumed.add_callback(freeze_again);
    resumed.resume(options.checkpoint);
    CHECK(resumed.current_lr() == 0.0);
  }
}

TEST_CASE("a rate set with the optimizer's set_lr, which the Trainer's next step would overwrite, is refused") {
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  {
    // (the callback's rate lasted until the next step, which wrote the schedule's back)
    mlp::Trainer<float> trainer(model, optimizer);
    auto setter = hook("on_batch_end", [](mlp::TrainContext<float>& c) { c.optimizer.set_lr(1e-4); });
    trainer.add_callback(setter);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                         doctest::Contains("the optimizer's learning rate was set to 0.0001 (set_lr) after step 1, "
                                           "but the Trainer writes the rate before every step"),
                         mlp::RuntimeError);
  }
  {
    // between two fits of one Trainer (fine-tuning at a lower rate trained at the old one)
    mlp::Sequential<float> fresh = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
    mlp::Adam<float> fresh_optimizer(fresh.parameters(), {1e-3});
    mlp::Trainer<float> trainer(fresh, fresh_optimizer);
    trainer.fit(d.train_loader, &d.val_loader, 1);
    fresh_optimizer.set_lr(1e-4);
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 2), doctest::Contains("(set_lr) after step 6"),
                         mlp::RuntimeError);
    // ... or by a Trainer made after it
    mlp::Trainer<float> second(fresh, fresh_optimizer);
    CHECK_THROWS_WITH_AS(second.fit(d.train_loader, &d.val_loader, 1),
                         doctest::Contains("the optimizer's learning rate was set to 0.0001 (set_lr) before this Trainer "
                                           "was made, which writes 0.001 at its step 1"),
                         mlp::RuntimeError);
  }
  {
    // Two Trainers may train one optimizer in turn: the rates they write are not set_lr's.
    mlp::Sequential<float> fresh = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
    mlp::Adam<float> fresh_optimizer(fresh.parameters(), {1e-3});
    mlp::Trainer<float> first(fresh, fresh_optimizer);
    mlp::Trainer<float> second(fresh, fresh_optimizer, mlp::LinearLR(0.1, 1.0, mlp::Steps{10}));
    first.fit(d.train_loader, &d.val_loader, 1);
    second.fit(d.train_loader, &d.val_loader, 1);
    first.fit(d.train_loader, &d.val_loader, 2);
    CHECK(first.step() == 12);
    CHECK(fresh_optimizer.steps() == 18);
    // A rate set before any Trainer, which the first step would overwrite, is refused; the same rate
    // as the first step's is not lost.
    mlp::Sequential<float> other = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
    mlp::Adam<float> other_optimizer(other.parameters(), {1e-3});
    other_optimizer.set_lr(0.5);
    mlp::Trainer<float> third(other, other_optimizer);
    CHECK_THROWS_WITH_AS(third.fit(d.train_loader, &d.val_loader, 1),
                         doctest::Contains("set to 0.5 (set_lr) before this Trainer was made, which writes 0.001"),
                         mlp::RuntimeError);
    other_optimizer.set_lr(1e-3);
    mlp::Trainer<float> fourth(other, other_optimizer);
    CHECK_NOTHROW(fourth.fit(d.train_loader, &d.val_loader, 1));
  }
}

namespace {

struct BadSchedule final : mlp::Schedule {
  explicit BadSchedule(bool clone_nothing = false) : clone_nothing_(clone_nothing) {}
  double lr_at(std::int64_t t, double base) const override { return t < 2 ? base : std::nan(""); }
  mlp::ScheduleUnit unit() const override { return mlp::ScheduleUnit::Step; }
  std::string describe() const override { return "BadSchedule"; }
  std::unique_ptr<mlp::Schedule> clone() const override {
    return clone_nothing_ ? nullptr : std::make_unique<BadSchedule>(*this);
  }
  bool clone_nothing_;
};

}  // namespace

TEST_CASE("a user's schedule that gives NaN is named, one whose clone() gives nothing is refused, also by SequentialLR") {
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, optimizer, BadSchedule(true)),
                       "Trainer: the schedule's clone() returned nullptr", mlp::InvalidArgument);
  // (SequentialLR kept the null and crashed at the first rate)
  CHECK_THROWS_WITH_AS(mlp::SequentialLR(BadSchedule(true)), "SequentialLR: the clone() of BadSchedule returned nullptr",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::SequentialLR(BadSchedule()).then(mlp::Steps{5}, BadSchedule(true)),
                       "SequentialLR: the clone() of BadSchedule returned nullptr", mlp::InvalidArgument);
  mlp::Trainer<float> trainer(model, optimizer, BadSchedule());
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       "the schedule BadSchedule gave the learning rate nan at step 2 (it has to be finite and >= 0)",
                       mlp::RuntimeError);
  CHECK(trainer.step() == 2);
}

TEST_CASE("a monitor refuses a name Auto cannot read and a relative min_delta that nothing could beat") {
  CHECK(mlp::Monitor("val_acc").minimizes() == false);
  CHECK(mlp::Monitor("val_top5_accuracy").minimizes() == false);
  CHECK(mlp::Monitor("val_loss").minimizes());
  CHECK_THROWS_WITH_AS(mlp::Monitor("val_accumulated_error"),
                       "Monitor: cannot tell whether 'val_accumulated_error' is to be minimized or maximized (Auto "
                       "maximizes names ending in acc or accuracy, and minimizes names with loss or error and without "
                       "acc); give MonitorMode::Min or MonitorMode::Max",
                       mlp::InvalidArgument);
  // (an F1 score or an AUC was minimized, as a name without acc; a capital A was not an accuracy)
  for (const std::string unknown : {"val_f1", "val_auc", "val_top5", "val_lost"}) {
    CAPTURE(unknown);
    CHECK_THROWS_WITH_AS(mlp::Monitor{unknown}, doctest::Contains("give MonitorMode::Min or MonitorMode::Max"),
                         mlp::InvalidArgument);
  }
  CHECK(mlp::Monitor("val_Accuracy").minimizes() == false);
  CHECK(mlp::Monitor("val_TopAcc").minimizes() == false);
  CHECK(mlp::Monitor("val_mse_error").minimizes());
  CHECK(mlp::Monitor("loss_gap").minimizes());
  CHECK(mlp::Monitor("val_accumulated_error", mlp::MonitorMode::Min).minimizes());
  CHECK_THROWS_WITH_AS(mlp::Monitor("val_loss", mlp::MonitorMode::Auto, 1.0, true),
                       "a relative min_delta has to be below 1 when 'val_loss' is minimized, but got 1",
                       mlp::InvalidArgument);
}

TEST_CASE("BestCheckpoint refuses a model it could not save before training, not after an epoch") {
  mlp_test::TempDir dir("api_misuse_best");
  MisuseData d;
  mlp::Sequential<float> model = mlp::ParameterizedMLP<float>(tiny_spec(), 1);
  model.add(std::make_unique<ScaleLayer>("TestUnregisteredScale"));
  mlp::Adam<float> optimizer(model.parameters(), {1e-3});
  mlp::Trainer<float> trainer(model, optimizer);
  mlp::BestCheckpoint<float> best(model, dir.file("best.mlp"));
  trainer.add_callback(best);
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("is of kind 'TestUnregisteredScale', which is not registered"), mlp::InvalidArgument);
  CHECK(trainer.step() == 0);
}
