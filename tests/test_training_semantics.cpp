// What the trainer promises about learning rates, stops, logs and misuse (issue-level regression
// tests: each failed before the fix it names).
#include "helpers.hpp"

#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/sgd.hpp>
#include <mlp/train/checkpoint.hpp>
#include <mlp/train/csv_logger.hpp>
#include <mlp/train/early_stopping.hpp>
#include <mlp/train/reduce_lr_on_plateau.hpp>
#include <mlp/train/trainer.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

using mlp_test::Blobs;
using mlp_test::make_blobs;

namespace {

mlp::MlpSpec spec(bool bn = false, double dropout = 0.0) {
  mlp::MlpSpec s;
  s.inputs = 6;
  s.hidden = {16, 8};
  s.classes = 3;
  s.batch_norm = bn;
  s.dropout = dropout;
  return s;
}

struct Data {
  Blobs train = make_blobs(240, 6, 3, 1, 1.5f), val = make_blobs(120, 6, 3, 2, 1.5f);
  mlp::DataLoader<float> train_loader{train.x, train.y, {32, true, false, 42}};
  mlp::DataLoader<float> val_loader{val.x, val.y, {1000, false, false, 0}};
};

// Requests a stop from on_batch_end at a given step, or from on_epoch_end at a given epoch.
struct StopAt final : mlp::Callback<float> {
  std::int64_t step = -1;
  int epoch = -1;
  std::string name() const override { return "stop_at"; }
  void on_batch_end(mlp::TrainContext<float>& ctx) override {
    if (ctx.step == step) ctx.request_stop("asked at step " + std::to_string(step));
  }
  void on_epoch_end(mlp::TrainContext<float>& ctx) override {
    if (ctx.log->epoch == epoch) ctx.request_stop("asked at epoch " + std::to_string(epoch));
  }
};

// Logs a metric of its own: the gap between validation and training loss.
struct Gap final : mlp::Callback<float> {
  std::string name() const override { return "gap"; }
  std::vector<std::string> logged_metrics() const override { return {"loss_gap"}; }
  void on_epoch_end(mlp::TrainContext<float>& ctx) override {
    ctx.log_metric("loss_gap", ctx.log->val_loss - ctx.log->train_loss);
  }
};

template <class T, class = void>
struct can_add_callback : std::false_type {};
template <class T>
struct can_add_callback<T, std::void_t<decltype(std::declval<mlp::Trainer<float>&>().add_callback(std::declval<T>()))>>
    : std::true_type {};

}  // namespace

TEST_CASE("the learning rate has one source: the optimizer's, shaped by the schedule") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {1e-4});
  mlp::Trainer<float> plain(model, adam);
  CHECK(plain.fit(d.train_loader, nullptr, 1).epochs[0].lr == doctest::Approx(1e-4));
  mlp::ParameterizedMLP<float> model2(spec(), 1);
  mlp::Adam<float> adam2(model2.parameters(), {1e-4});
  mlp::Trainer<float> halved(model2, adam2, mlp::ConstantLR(0.5, mlp::Epochs{100}));  // the schedule is copied
  CHECK(halved.fit(d.train_loader, nullptr, 1).epochs[0].lr == doctest::Approx(0.5e-4));
}

TEST_CASE("an epoch schedule changes the rate at epoch boundaries, a step schedule every step") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::SGD<float> sgd(model.parameters(), {0.1});
  mlp::Trainer<float> trainer(model, sgd, mlp::StepLR(mlp::Epochs{2}, 0.5));
  const auto h = trainer.fit(d.train_loader, nullptr, 5);
  const double expected[] = {0.1, 0.1, 0.05, 0.05, 0.025};
  for (int e = 0; e < 5; ++e) CHECK(h.epochs[static_cast<std::size_t>(e)].lr == doctest::Approx(expected[e]));
  mlp::ParameterizedMLP<float> model2(spec(), 1);
  mlp::SGD<float> sgd2(model2.parameters(), {0.1});
  mlp::Trainer<float> per_step(model2, sgd2, mlp::StepLR(mlp::Steps{2}, 0.5));
  // 8 batches per epoch: the last step of epoch 1 is step 7, floor(7 / 2) = 3 halvings.
  CHECK(per_step.fit(d.train_loader, nullptr, 1).epochs[0].lr == doctest::Approx(0.1 / 8));
}

TEST_CASE("a non-finite step puts back the dropout generators and BatchNorm statistics") {
  mlp::ParameterizedMLP<float> model(spec(true, 0.3), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  Blobs bad = make_blobs(32, 6, 3, 1);
  bad.x(2, 5) = std::numeric_limits<float>::quiet_NaN();
  mlp::DataLoader<float> loader(bad.x, bad.y, {32, false, false, 0});
  loader.start_epoch(0);
  const auto random_before = model.random_states();
  const auto state_before = model.state_dict();
  CHECK(!trainer.train_step(*loader.next()).finite);
  CHECK(model.random_states() == random_before);
  CHECK(mlp_test::same_state(model.state_dict(), state_before));
}

TEST_CASE("a second fit reports its own end, not the first one's") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  CHECK(trainer.fit(d.train_loader, &d.val_loader, 1).stop_reason == "completed 1 epoch");
  CHECK(trainer.fit(d.train_loader, &d.val_loader, 4).stop_reason == "completed 4 epochs");
  CHECK(trainer.history().epochs.size() == 4);
}

TEST_CASE("a stop asked for in the last epoch counts as stopped early") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  StopAt stop;
  stop.epoch = 3;
  trainer.add_callback(stop);
  const auto h = trainer.fit(d.train_loader, &d.val_loader, 3);
  CHECK(h.stopped_early);
  CHECK(h.stop_reason == "asked at epoch 3");
}

TEST_CASE("a stop asked for in on_batch_end does not log the partial epoch as complete") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  StopAt stop;
  stop.step = 11;  // epoch 2, batch 3 of 8
  trainer.add_callback(stop);
  const auto h = trainer.fit(d.train_loader, &d.val_loader, 5);
  CHECK(h.epochs.size() == 1);
  CHECK(h.stopped_early);
  CHECK(h.stop_reason ==
        "asked at step 11 (requested in epoch 2 after batch 3 of 8; that partial epoch is not logged)");
  CHECK(trainer.step() == 11);
  // At the last batch of an epoch the epoch is complete: it is logged, then training stops.
  mlp::ParameterizedMLP<float> model2(spec(), 1);
  mlp::Adam<float> adam2(model2.parameters(), {});
  mlp::Trainer<float> trainer2(model2, adam2);
  StopAt at_end;
  at_end.step = 16;
  trainer2.add_callback(at_end);
  const auto h2 = trainer2.fit(d.train_loader, &d.val_loader, 5);
  CHECK(h2.epochs.size() == 2);
  CHECK(h2.stop_reason == "asked at step 16");
}

TEST_CASE("a checkpoint of a stop in the middle of an epoch resumes to the same end, and is checked") {
  // (it was saved finished without a stop reason, and its resume refused)
  Data d;
  mlp_test::TempDir dir("stop_in_epoch");
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.ckpt");
  mlp::History first;
  {
    mlp::ParameterizedMLP<float> model(spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {});
    mlp::Trainer<float> trainer(model, adam, options);
    StopAt stop;
    stop.step = 11;  // epoch 2, batch 3 of 8
    trainer.add_callback(stop);
    first = trainer.fit(d.train_loader, &d.val_loader, 5);
  }
  const std::string good = mlp_test::read_bytes(dir.file("run.ckpt"));
  const auto resumed = [&](const char* key, const char* value) {
    mlp_test::write_bytes(dir.file("run.ckpt"), good);
    if (key != nullptr) mlp_test::patch_text_entry(dir.file("run.ckpt"), key, value);
    mlp::ParameterizedMLP<float> model(spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {});
    mlp::Trainer<float> trainer(model, adam, options);
    StopAt stop;
    trainer.add_callback(stop);
    trainer.resume(dir.file("run.ckpt"));
    const mlp::History h = trainer.fit(d.train_loader, &d.val_loader, 5);
    CHECK(trainer.step() == 11);
    return h;
  };
  const mlp::History again = resumed(nullptr, nullptr);
  CHECK(again.stopped_early);
  CHECK(again.stop_reason == first.stop_reason);
  CHECK(again.epochs.size() == 1);
  // 3 batches of 32 make 96 samples (one that said 100000 logged a train_loss 1000 times too small; the
  // patch keeps the value's length)
  CHECK_THROWS_WITH_AS(resumed("acc_samples", "97"),
                       "the resumed checkpoint counts 97 samples in the 3 batches of its epoch so far, but this "
                       "training loader's batches of 32 make 96 (a corrupt checkpoint?)",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(resumed("stopped_early", "0"),
                       mlp_test::contains("is marked finished, but its history says the run did not stop early"),
                       mlp::IoError);
  CHECK_THROWS_WITH_AS(resumed("finished", "0"),
                       mlp_test::contains("is marked unfinished, but its history says the run stopped early"),
                       mlp::IoError);
}

// Sets an interrupt flag (as train's SIGINT handler does) at the end of a given step.
struct InterruptAt final : mlp::Callback<float> {
  std::atomic<bool>* flag = nullptr;
  std::int64_t step = -1;
  std::string name() const override { return "interrupt_at"; }
  void on_batch_end(mlp::TrainContext<float>& ctx) override {
    if (ctx.step == step) flag->store(true);
  }
};

TEST_CASE("an interrupt at an epoch's last batch ends that epoch first, and the run resumes from it bit for bit") {
  // (its checkpoint held batch 8 of 8, which resume refused: "batch_in_epoch '8' (expected 0 to 7)")
  Data d;
  mlp_test::TempDir dir("interrupt_last_batch");
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.ckpt");
  const auto run = [&](std::int64_t interrupt_at, bool resume) {
    mlp::ParameterizedMLP<float> model(spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {});
    mlp::Trainer<float> trainer(model, adam, options);
    std::atomic<bool> flag{false};
    trainer.set_interrupt_flag(&flag);
    InterruptAt interrupt;
    interrupt.flag = &flag;
    interrupt.step = interrupt_at;
    trainer.add_callback(interrupt);
    if (resume) trainer.resume(dir.file("run.ckpt"));
    const mlp::History h = trainer.fit(d.train_loader, &d.val_loader, 3);
    return std::make_pair(h, model.state_dict());
  };
  const auto [stopped, stopped_state] = run(8, false);  // 8 batches per epoch
  CHECK(stopped.interrupted);
  CHECK(stopped.stop_reason == "interrupted after step 8 (the end of epoch 1)");
  CHECK(stopped.epochs.size() == 1);
  const auto [resumed, resumed_state] = run(-1, true);
  CHECK_FALSE(resumed.interrupted);
  CHECK(resumed.epochs.size() == 3);
  std::filesystem::remove(dir.file("run.ckpt"));
  const auto [whole, whole_state] = run(-1, false);
  CHECK(mlp_test::same_state(resumed_state, whole_state));
  // in the middle of an epoch, as before
  const auto [middle, middle_state] = run(5, false);
  CHECK(middle.stop_reason == "interrupted after step 5 (epoch 1, batch 5)");
  CHECK(middle.epochs.empty());
}

TEST_CASE("fit refuses a training loader that gives no batch") {
  // (it reported "completed 3 epochs" with a train_loss of 0)
  Data d;
  mlp::DataLoader<float> none(d.train.x, d.train.y, {500, true, /*drop_last=*/true, 42});
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  CHECK_THROWS_WITH_AS(trainer.fit(none, &d.val_loader, 3),
                       "the training loader gives no batch (240 samples in batches of 500, the last one dropped)",
                       mlp::InvalidArgument);
}

TEST_CASE("with label smoothing the logged train_loss is plain cross-entropy, like val_loss") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::SGD<float> frozen(model.parameters(), {0.0});  // lr 0: the weights stay, so the losses compare
  mlp::TrainerOptions options;
  options.label_smoothing = 0.2;
  mlp::Trainer<float> trainer(model, frozen, options);
  const auto h = trainer.fit(d.train_loader, &d.val_loader, 1);
  const double plain = mlp::evaluate(model, d.train_loader).loss;
  CHECK(h.epochs[0].train_loss == doctest::Approx(plain).epsilon(1e-6));
  CHECK(h.epochs[0].custom.at("train_smoothed_loss") > 0.0);
  CHECK(h.epochs[0].custom.at("train_smoothed_loss") != doctest::Approx(plain).epsilon(1e-6));
}

TEST_CASE("monitoring a metric the run does not produce is an error when training begins") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  mlp::EarlyStopping<float> stop(3);  // val_loss
  trainer.add_callback(stop);
  CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, nullptr, 2),
                       doctest::Contains("callback 'early_stopping' monitors 'val_loss', which this run does not "
                                         "produce (fit() got no validation loader); it produces train_loss"),
                       mlp::InvalidArgument);
  CHECK(trainer.history().epochs.empty());
  mlp::Trainer<float> typo(model, adam);
  mlp::BestCheckpoint<float> best(model, "", mlp::Monitor("val_lost", mlp::MonitorMode::Min));
  typo.add_callback(best);
  CHECK_THROWS_WITH_AS(typo.fit(d.train_loader, &d.val_loader, 2),
                       doctest::Contains("monitors 'val_lost', which this run does not produce"), mlp::InvalidArgument);
}

TEST_CASE("a metric of the user's is logged, written to the CSV and monitored") {
  mlp_test::TempDir dir("custom_metric");
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {3e-3});
  mlp::Trainer<float> trainer(model, adam);
  mlp::TopKAccuracy<float> top2(2);
  trainer.add_metric(top2);
  Gap gap;
  mlp::BestCheckpoint<float> best(model, "", mlp::Monitor("val_top2_acc"));
  mlp::EarlyStopping<float> stop(50, mlp::Monitor("loss_gap", mlp::MonitorMode::Min));
  mlp::CsvLogger<float> csv(dir.file("metrics.csv"));
  trainer.add_callback(gap);
  trainer.add_callback(best);
  trainer.add_callback(stop);
  trainer.add_callback(csv);
  const auto h = trainer.fit(d.train_loader, &d.val_loader, 3);
  CHECK(h.epochs[2].custom.at("val_top2_acc") >= h.epochs[2].val_acc);
  CHECK(h.epochs[2].custom.at("loss_gap") == doctest::Approx(h.epochs[2].val_loss - h.epochs[2].train_loss));
  CHECK(best.best_epoch() >= 1);
  const std::string text = mlp::read_text_file(dir.file("metrics.csv"));
  CHECK(text.rfind("epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,penalty,loss_gap,val_top2_acc\n", 0) == 0);
  // Trainer::evaluate computes the metrics too (it left them out), on the best epoch's weights.
  CHECK(trainer.evaluate(d.val_loader).metrics.at("top2_acc") ==
        h.epochs[static_cast<std::size_t>(best.best_epoch() - 1)].custom.at("val_top2_acc"));
  // A logger of every metric added before the callback that logs one is refused: the last epoch's
  // row, and the TensorBoard file altogether, went without it.
  mlp::Trainer<float> logger_first(model, adam);
  mlp::CsvLogger<float> early_csv(dir.file("early.csv"));
  Gap later;
  logger_first.add_callback(early_csv);
  logger_first.add_callback(later);
  CHECK_THROWS_WITH_AS(logger_first.fit(d.train_loader, &d.val_loader, 1),
                       "callback 'csv_logger' writes every metric of an epoch, but callback 'gap' logs 'loss_gap' "
                       "after it (it is added later), so the metric would be missing from what it writes: add 'gap' "
                       "first",
                       mlp::InvalidArgument);
  // A logger that logs a metric of its own (before it writes them all) is not refused for it.
  struct LoggingLogger final : mlp::Callback<float> {
    std::string name() const override { return "logging_logger"; }
    std::vector<std::string> logged_metrics() const override { return {"own"}; }
    bool writes_every_metric() const override { return true; }
    void on_epoch_end(mlp::TrainContext<float>& ctx) override { ctx.log_metric("own", 1.0); }
  };
  mlp::Trainer<float> self_logging(model, adam);
  LoggingLogger logging_logger;
  self_logging.add_callback(logging_logger);
  CHECK(self_logging.fit(d.train_loader, &d.val_loader, 1).epochs[0].custom.at("own") == 1.0);
  // A monitor added before the callback that logs its metric is refused.
  mlp::Trainer<float> wrong_order(model, adam);
  mlp::EarlyStopping<float> early(5, mlp::Monitor("loss_gap"));
  Gap late;
  wrong_order.add_callback(early);
  wrong_order.add_callback(late);
  CHECK_THROWS_WITH_AS(wrong_order.fit(d.train_loader, &d.val_loader, 1),
                       doctest::Contains("callback 'early_stopping' monitors 'loss_gap', which callback 'gap' logs, "
                                         "but that one is added after it: add it first"),
                       mlp::InvalidArgument);
}

TEST_CASE("CSV values read back to the same doubles as the history") {
  mlp_test::TempDir dir("csv_exact");
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> trainer(model, adam);
  mlp::CsvLogger<float> csv(dir.file("metrics.csv"));
  trainer.add_callback(csv);
  const auto h = trainer.fit(d.train_loader, &d.val_loader, 2);
  const auto lines = mlp::detail::split(mlp::read_text_file(dir.file("metrics.csv")), '\n');
  const auto fields = mlp::detail::split(lines[2], ',');
  const mlp::EpochLog& e = h.epochs[1];
  const double expected[] = {e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.lr, e.seconds, e.penalty};
  for (std::size_t k = 0; k < 7; ++k) CHECK(std::strtod(fields[k + 1].c_str(), nullptr) == expected[k]);
}

TEST_CASE("misuse fails loudly: an optimizer of another model, callbacks after resume, temporaries") {
  mlp::ParameterizedMLP<float> model(spec(), 1), other(spec(), 2);
  mlp::Adam<float> adam(other.parameters(), {});
  CHECK_THROWS_WITH_AS(mlp::Trainer<float>(model, adam), doctest::Contains("the optimizer does not hold this model's parameters"),
                       mlp::InvalidArgument);
  static_assert(!std::is_constructible_v<mlp::DataLoader<float>, mlp::Matrix<float>&&, const mlp::Labels&, mlp::LoaderOptions>,
                "a loader over a temporary matrix would dangle");
  static_assert(!std::is_constructible_v<mlp::DataLoader<float>, const mlp::Matrix<float>&, mlp::Labels&&, mlp::LoaderOptions>,
                "a loader over temporary labels would dangle");
  static_assert(!can_add_callback<StopAt&&>::value, "a temporary callback would dangle");
  static_assert(can_add_callback<StopAt&>::value, "a callback that outlives the trainer is fine");
}

TEST_CASE("backward after an Eval forward, or with no forward, is an error for every layer") {
  mlp::ParameterizedMLP<double> model(spec(true, 0.2), 1);
  const auto x = mlp_test::random_matrix(6, 4, 1);
  model.forward(x, mlp::Mode::Train);
  model.forward(x, mlp::Mode::Eval);  // overwrites the caches backward would read
  const auto dy = mlp_test::random_matrix(3, 4, 2);
  CHECK_THROWS_WITH_AS(model.backward(dy),
                       "Linear(8, 3): backward needs a forward in Train mode of the same batch just before it, but "
                       "the last forward was in Eval mode",
                       mlp::RuntimeError);
  model.forward(x, mlp::Mode::Train);
  CHECK_NOTHROW(model.backward(dy));
  CHECK_THROWS_WITH_AS(model.backward(mlp_test::random_matrix(3, 5, 2)),
                       "Linear(8, 3): backward got dL/dy of 3 x 5, but the last forward produced 3 x 4", mlp::RuntimeError);
  mlp::ReLU<double> relu;
  CHECK_THROWS_WITH_AS(relu.backward(dy), doctest::Contains("ReLU: backward needs a forward in Train mode"),
                       mlp::RuntimeError);
}

TEST_CASE("training writes its files into folders it creates") {
  mlp_test::TempDir dir("folders");
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::TrainerOptions options;
  options.checkpoint = dir.path() / "a" / "checkpoint.mlpckpt";
  mlp::Trainer<float> trainer(model, adam, options);
  mlp::BestCheckpoint<float> best(model, dir.path() / "b" / "c" / "best.mlp");
  mlp::CsvLogger<float> csv(dir.path() / "d" / "metrics.csv");
  trainer.add_callback(best);
  trainer.add_callback(csv);
  trainer.fit(d.train_loader, &d.val_loader, 1);
  CHECK(std::filesystem::is_regular_file(dir.path() / "a" / "checkpoint.mlpckpt"));
  CHECK(std::filesystem::is_regular_file(dir.path() / "b" / "c" / "best.mlp"));
  CHECK(std::filesystem::is_regular_file(dir.path() / "d" / "metrics.csv"));
}

TEST_CASE("resume refuses a trainer without the checkpoint's stateful callbacks, and late callbacks") {
  mlp_test::TempDir dir("resume_callbacks");
  Data d;
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.ckpt");
  {
    mlp::ParameterizedMLP<float> model(spec(), 1);
    mlp::Adam<float> adam(model.parameters(), {});
    mlp::Trainer<float> trainer(model, adam, options);
    mlp::EarlyStopping<float> stop(5);
    trainer.add_callback(stop);
    trainer.fit(d.train_loader, &d.val_loader, 1);
  }
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::Adam<float> adam(model.parameters(), {});
  mlp::Trainer<float> bare(model, adam, options);
  CHECK_THROWS_WITH_AS(bare.resume(dir.file("run.ckpt")),
                       doctest::Contains("holds the state of callbacks [early_stopping], but this trainer has []"),
                       mlp::IoError);
  mlp::Trainer<float> trainer(model, adam, options);
  mlp::EarlyStopping<float> stop(5);
  trainer.add_callback(stop);
  trainer.resume(dir.file("run.ckpt"));
  mlp::CsvLogger<float> late(dir.file("m.csv"));
  CHECK_THROWS_WITH_AS(trainer.add_callback(late), "add callbacks before resume(): resume() restores their state",
                       mlp::InvalidArgument);
  mlp::DataLoader<float> other_batches(d.train.x, d.train.y, {64, true, false, 42});
  CHECK_THROWS_WITH_AS(trainer.fit(other_batches, &d.val_loader, 2),
                       doctest::Contains("written with 8 batches per epoch, but this training loader has 4"),
                       mlp::InvalidArgument);
  mlp::Adam<float> other_lr(model.parameters(), {0.5});
  mlp::Trainer<float> other(model, other_lr, options);
  mlp::EarlyStopping<float> stop2(5);
  other.add_callback(stop2);
  CHECK_THROWS_WITH_AS(other.resume(dir.file("run.ckpt")),
                       doctest::Contains("was written with optimizer lr 0.001"), mlp::IoError);
}

namespace {

// Logs the epoch's number as a metric, so that a monitor minimizing it finds epoch 1 the best.
struct EpochNumber final : mlp::Callback<float> {
  std::string name() const override { return "epoch_number"; }
  std::vector<std::string> logged_metrics() const override { return {"epoch_number"}; }
  void on_epoch_end(mlp::TrainContext<float>& ctx) override { ctx.log_metric("epoch_number", ctx.log->epoch); }
};

// The callbacks that remember a best, trained over one model from the weights of `seed`.
struct Watchers {
  mlp::EarlyStopping<float> stop{100};
  mlp::ReduceLROnPlateau<float> reduce{{mlp::Monitor(mlp::metric::val_loss), 0.5, 0, 0, 0.0}};
  mlp::BestCheckpoint<float> best;
  explicit Watchers(mlp::Sequential<float>& model) : best(model) {}
};

mlp::History train_watched(Data& d, mlp::ParameterizedMLP<float>& model, Watchers& w, std::uint64_t seed, double lr,
                           int epochs) {
  model.load_state_dict(mlp::ParameterizedMLP<float>(spec(), seed).state_dict());
  mlp::Adam<float> adam(model.parameters(), {lr});
  mlp::Trainer<float> trainer(model, adam);
  trainer.add_callback(w.stop);
  trainer.add_callback(w.reduce);
  trainer.add_callback(w.best);
  return trainer.fit(d.train_loader, &d.val_loader, epochs);
}

}  // namespace

// One BestCheckpoint kept the first run's best through a second run, and put the first run's weights
// into the second run's model at its end; EarlyStopping stopped the second run against the first
// run's best (an independent review, 2026-12-06).
TEST_CASE("one EarlyStopping, ReduceLROnPlateau and BestCheckpoint serve runs one after another as fresh ones do") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  Watchers reused(model);
  train_watched(d, model, reused, 1, 3e-2, 5);
  const mlp::History second = train_watched(d, model, reused, 2, 1e-5, 3);
  const mlp::StateDict<float> after_reused = model.state_dict();

  Watchers fresh(model);
  const mlp::History alone = train_watched(d, model, fresh, 2, 1e-5, 3);
  REQUIRE(second.epochs.size() == alone.epochs.size());
  for (std::size_t e = 0; e < alone.epochs.size(); ++e) {
    CHECK(second.epochs[e].val_loss == alone.epochs[e].val_loss);
    CHECK(second.epochs[e].lr == alone.epochs[e].lr);
  }
  CHECK(reused.best.best_epoch() == fresh.best.best_epoch());
  CHECK(reused.best.best() == fresh.best.best());
  CHECK(reused.stop.best() == fresh.stop.best());
  CHECK(reused.reduce.reductions() == fresh.reduce.reductions());
  CHECK(mlp_test::same_state(after_reused, model.state_dict()));
}

// fit(2) then fit(4) went on from the best epoch's weights that BestCheckpoint had put back, with the
// last epoch's optimizer state; resuming from the checkpoint file went on from the last (a review).
TEST_CASE("fit in two parts with BestCheckpoint gives the bits of one fit") {
  // The model's state when epoch 3 begins.
  struct StateAtEpochThree final : mlp::Callback<float> {
    mlp::StateDict<float> state;
    std::string name() const override { return "state_at_epoch_three"; }
    void on_epoch_begin(mlp::TrainContext<float>& ctx) override {
      if (ctx.epoch == 2) state = ctx.model.state_dict();
    }
  };
  // In parts: fit(2), then (when given) the user's weights, then fit(4).
  const auto run = [](bool in_parts, const mlp::StateDict<float>* users) {
    Data d;
    mlp::ParameterizedMLP<float> model(spec(), 3);
    mlp::Adam<float> adam(model.parameters(), {3e-2});
    mlp::Trainer<float> trainer(model, adam);
    EpochNumber number;
    mlp::BestCheckpoint<float> best(model, "", mlp::Monitor("epoch_number", mlp::MonitorMode::Min));
    StateAtEpochThree seen;
    trainer.add_callback(number);
    trainer.add_callback(best);
    trainer.add_callback(seen);
    if (in_parts) {
      trainer.fit(d.train_loader, &d.val_loader, 2);
      CHECK(best.restored());
      if (users != nullptr) model.load_state_dict(*users);
    }
    const mlp::History h = trainer.fit(d.train_loader, &d.val_loader, 4);
    CHECK(best.best_epoch() == 1);
    return std::tuple{h, model.state_dict(), seen.state};
  };
  const auto [whole, whole_state, whole_seen] = run(false, nullptr);
  const auto [parts, parts_state, parts_seen] = run(true, nullptr);
  REQUIRE(parts.epochs.size() == 4);
  for (std::size_t e = 0; e < 4; ++e) CHECK(parts.epochs[e].val_loss == whole.epochs[e].val_loss);
  CHECK(mlp_test::same_state(parts_state, whole_state));  // epoch 1's, put back at the end of both
  CHECK(mlp_test::same_state(parts_seen, whole_seen));
  // Weights the user gave the model between the two fits stand (a review: they were overwritten).
  const mlp::StateDict<float> users = mlp::ParameterizedMLP<float>(spec(), 9).state_dict();
  CHECK(mlp_test::same_state(std::get<2>(run(true, &users)), users));
}

// A second Trainer stepping the same optimizer (as training.md allows) left the counts apart, and
// every checkpoint written after was refused only when resumed (a review, 2026-12-06).
TEST_CASE("a checkpoint of a run whose optimizer another Trainer stepped is refused when it would be written") {
  Data d;
  mlp::ParameterizedMLP<float> model(spec(), 1);
  mlp::SGD<float> sgd(model.parameters(), {0.05});
  mlp::Trainer<float> first(model, sgd);
  first.fit(d.train_loader, nullptr, 1);
  const mlp_test::TempDir dir("optimizer_steps");
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.mlpckpt");
  mlp::Trainer<float> second(model, sgd, options);
  CHECK_THROWS_WITH_AS(second.fit(d.train_loader, nullptr, 1),
                       "fit() with a checkpoint path: the optimizer has taken 8 steps and this Trainer 0 (another "
                       "Trainer, or a step() of one's own, stepped it too), so a checkpoint of this run could not be "
                       "resumed; checkpoint a run whose optimizer only its Trainer steps",
                       mlp::RuntimeError);
  mlp::Trainer<float> third(model, sgd);
  third.fit(d.train_loader, nullptr, 1);
  CHECK_THROWS_WITH_AS(first.save_checkpoint(dir.file("first.mlpckpt")),
                       mlp_test::contains("save_checkpoint: the optimizer has taken 16 steps and this Trainer 8"),
                       mlp::RuntimeError);
  CHECK(!std::filesystem::exists(dir.file("first.mlpckpt")));
}

namespace {

// Throws in on_epoch_end of one epoch, or in on_batch_end of one step, once.
struct CallbackThrowingOnce final : mlp::Callback<float> {
  int epoch = -1;
  std::int64_t step = -1;
  std::string name() const override { return "throw_once"; }
  void on_batch_end(mlp::TrainContext<float>& ctx) override {
    if (ctx.step == step) {
      step = -1;
      throw std::runtime_error("disk full");
    }
  }
  void on_epoch_end(mlp::TrainContext<float>& ctx) override {
    if (ctx.log->epoch == epoch) {
      epoch = -1;
      throw std::runtime_error("disk full");
    }
  }
};

}  // namespace

// A callback that threw in on_epoch_end left that epoch counted with the callbacks after it, the rate
// and stop it asked for and its checkpoint not done, and fit() went on without a word (a CsvLogger on
// a full disk left BestCheckpoint's best one epoch behind; the ninth hostile round).
TEST_CASE("after a callback throws in on_epoch_end or on_batch_end, fit and save_checkpoint are refused until resume") {
  const auto uninterrupted = [] {
    Data d;
    mlp::ParameterizedMLP<float> model(spec(), 4);
    mlp::Adam<float> adam(model.parameters(), {1e-2});
    mlp::Trainer<float> trainer(model, adam);
    return std::pair{trainer.fit(d.train_loader, &d.val_loader, 3), model.state_dict()};
  }();
  for (const bool at_epoch_end : {true, false}) {
    CAPTURE(at_epoch_end);
    Data d;
    mlp::ParameterizedMLP<float> model(spec(), 4);
    mlp::Adam<float> adam(model.parameters(), {1e-2});
    const mlp_test::TempDir dir("callback_threw");
    mlp::TrainerOptions options;
    options.checkpoint = dir.file("run.mlpckpt");
    mlp::Trainer<float> trainer(model, adam, options);
    CallbackThrowingOnce thrower;
    if (at_epoch_end) {
      thrower.epoch = 2;
    } else {
      thrower.step = 12;  // in epoch 2 (8 batches an epoch)
    }
    trainer.add_callback(thrower);
    CHECK_THROWS_WITH(trainer.fit(d.train_loader, &d.val_loader, 3), "disk full");
    const std::string said = at_epoch_end ? "callback 'throw_once' threw in on_epoch_end at step 16 (epoch 2)"
                                          : "callback 'throw_once' threw in on_batch_end at step 12 (epoch 2)";
    CHECK_THROWS_WITH_AS(trainer.fit(d.train_loader, &d.val_loader, 3),
                         ("fit: " + said + ", so the callbacks after it, a rate or stop it asked for and that point's "
                          "checkpoint were not all done; resume() from the last checkpoint (or start over with a new "
                          "Trainer)").c_str(),
                         mlp::RuntimeError);
    CHECK_THROWS_WITH_AS(trainer.save_checkpoint(dir.file("other.mlpckpt")), mlp_test::contains("save_checkpoint: " + said),
                         mlp::RuntimeError);
    trainer.resume(options.checkpoint);  // the end of epoch 1
    const mlp::History h = trainer.fit(d.train_loader, &d.val_loader, 3);
    REQUIRE(h.epochs.size() == 3);
    CHECK(h.epochs[2].val_loss == uninterrupted.first.epochs[2].val_loss);
    CHECK(mlp_test::same_state(model.state_dict(), uninterrupted.second));
  }
}
