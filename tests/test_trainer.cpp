#include "alloc_counter.hpp"
#include "helpers.hpp"

#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/schedulers.hpp>
#include <mlp/optim/sgd.hpp>
#include <mlp/train/checkpoint.hpp>
#include <mlp/train/csv_logger.hpp>
#include <mlp/train/early_stopping.hpp>
#include <mlp/train/progress_bar.hpp>
#include <mlp/train/reduce_lr_on_plateau.hpp>
#include <mlp/train/trainer.hpp>

#include <cmath>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

using mlp_test::Blobs;
using mlp_test::make_blobs;

namespace {

mlp::MlpSpec small_spec(bool bn = true, double dropout = 0.2) {
  mlp::MlpSpec spec;
  spec.inputs = 6;
  spec.hidden = {16, 8};
  spec.classes = 3;
  spec.batch_norm = bn;
  spec.dropout = dropout;
  return spec;
}

// Everything one training run needs, built the same way every time from a seed.
struct Run {
  Blobs train = make_blobs(240, 6, 3, 1, 1.5f), val = make_blobs(120, 6, 3, 2, 1.5f);
  mlp::ParameterizedMLP<float> model;
  mlp::Adam<float> optimizer;
  mlp::DataLoader<float> train_loader, val_loader;
  mlp::Trainer<float> trainer;

  explicit Run(mlp::TrainerOptions options = {}, mlp::MlpSpec spec = small_spec())
      : model(spec, 42), optimizer(model.parameters(), {3e-3}),
        train_loader(train.x, train.y, {32, true, false, 42}),
        val_loader(val.x, val.y, {1000, false, false, 0}),
        trainer(model, optimizer, std::move(options)) {}
};

void check_same_history(const mlp::History& a, const mlp::History& b) {
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t i = 0; i < a.epochs.size(); ++i) {
    CHECK(a.epochs[i].train_loss == b.epochs[i].train_loss);
    CHECK(a.epochs[i].train_acc == b.epochs[i].train_acc);
    CHECK(a.epochs[i].val_loss == b.epochs[i].val_loss);
    CHECK(a.epochs[i].val_acc == b.epochs[i].val_acc);
    CHECK(a.epochs[i].lr == b.epochs[i].lr);
    CHECK(a.epochs[i].steps == b.epochs[i].steps);
  }
}

// Fake epoch logs for callback unit tests.
struct FakeTraining {
  mlp::ParameterizedMLP<float> model{small_spec(false, 0.0), 1};
  mlp::SGD<float> optimizer{model.parameters(), {}};
  mlp::History history;
  mlp::TrainContext<float> ctx{model, optimizer, history};
  double base_lr = 0.01;

  // Feeds val_loss values to the callback, one epoch each; returns the epoch it asked to stop at.
  int feed(mlp::Callback<float>& callback, const std::vector<double>& val_losses) {
    for (std::size_t i = 0; i < val_losses.size(); ++i) {
      ctx.lr = base_lr * ctx.lr_scale;  // the rate of the epoch's last step, as the Trainer gives it
      mlp::EpochLog log;
      log.epoch = static_cast<int>(i) + 1;
      log.val_loss = val_losses[i];
      history.epochs.push_back(log);
      ctx.log = &history.epochs.back();
      callback.on_epoch_end(ctx);
      if (ctx.stop_requested()) return log.epoch;
    }
    return 0;
  }
};

}  // namespace

TEST_CASE("a tiny batch overfits to 100% training accuracy") {
  const Blobs data = make_blobs(32, 10, 4, 7, 3.0f);  // heavily overlapping: needs memorizing
  mlp::MlpSpec spec{10, {64}, 4};
  mlp::ParameterizedMLP<float> model(spec, 1);
  mlp::Adam<float> adam(model.parameters(), {1e-2});
  mlp::Trainer<float> trainer(model, adam);
  mlp::DataLoader<float> loader(data.x, data.y, {32, false, false, 0});
  const auto history = trainer.fit(loader, nullptr, 300);
  CHECK(history.epochs.back().train_acc == 1.0);
  CHECK(trainer.evaluate(loader).accuracy == 1.0);
  CHECK(history.stop_reason == "completed 300 epochs");
}

TEST_CASE("training twice with the same seed gives bit-identical weights and metrics") {
  Run a, b;
  const auto ha = a.trainer.fit(a.train_loader, &a.val_loader, 4);
  const auto hb = b.trainer.fit(b.train_loader, &b.val_loader, 4);
  CHECK(mlp_test::same_state(a.model.state_dict(), b.model.state_dict()));
  check_same_history(ha, hb);
  CHECK(ha.epochs.back().steps == 4 * 8);
}

TEST_CASE("a NaN loss stops training with a reason naming the step and leaves the weights alone") {
  Run run;
  run.train.x.row(0).setConstant(std::nanf(""));  // every sample poisoned: step 1 fails
  const auto before = run.model.state_dict();
  const auto history = run.trainer.fit(run.train_loader, &run.val_loader, 3);
  CHECK(history.diverged);
  CHECK(history.epochs.empty());
  CHECK(history.stop_reason.rfind("non-finite training loss (nan, penalty 0) at step 1 (epoch 1, batch 1); "
                                  "this step changed nothing in the model", 0) == 0);
  CHECK(mlp_test::same_state(before, run.model.state_dict()));
}

TEST_CASE("a diverging learning rate is caught and the first bad parameter named") {
  Run run;
  mlp::SGD<float> sgd(run.model.parameters(), {1e12, 0.0, false, 0.0});
  mlp::Trainer<float> trainer(run.model, sgd);
  const auto history = trainer.fit(run.train_loader, &run.val_loader, 5);
  CHECK(history.diverged);
  CHECK(history.stop_reason.find("non-finite") != std::string::npos);
}

TEST_CASE("EarlyStopping waits patience epochs without improvement, then asks to stop") {
  FakeTraining fake;
  mlp::EarlyStopping<float> stop(3);
  CHECK(fake.feed(stop, {1.0, 0.9, 0.95, 0.93, 0.92, 0.8}) == 5);
  CHECK(stop.best_epoch() == 2);
  CHECK(stop.best() == 0.9);
  CHECK(fake.ctx.stop_reason() ==
        "early stopping at epoch 5: val_loss did not improve on 0.9 (epoch 2) for 3 epochs (patience 3)");
  FakeTraining with_delta;
  mlp::EarlyStopping<float> strict(2, mlp::Monitor("val_loss", mlp::MonitorMode::Auto, 0.05));
  CHECK(with_delta.feed(strict, {1.0, 0.97, 0.96, 0.5}) == 3);  // 0.03 and 0.04 are too small
  FakeTraining nan;
  mlp::EarlyStopping<float> patient(2);
  CHECK(nan.feed(patient, {1.0, std::nan(""), std::nan("")}) == 3);
}

TEST_CASE("ReduceLROnPlateau scales the learning rate after patience bad epochs") {
  FakeTraining fake;
  mlp::ReduceLROnPlateauOptions o;
  o.factor = 0.5;
  o.patience = 1;
  mlp::ReduceLROnPlateau<float> plateau(o);
  fake.feed(plateau, {1.0, 1.0, 1.0});  // two bad epochs > patience 1: reduce once
  CHECK(fake.ctx.lr_scale == 0.5);
  fake.feed(plateau, {1.0, 1.0});
  CHECK(fake.ctx.lr_scale == 0.25);
  CHECK(plateau.reductions() == 2);
}

// PyTorch 1.13: ReduceLROnPlateau(SGD(lr), factor=0.5, patience=0), step(1.0, 1.1, 1.2, 1.3): with lr
// 1e-8 the rate stays 1e-8; with 4e-8 it goes 4e-8, 2e-8, 2e-8, 2e-8 (a cut of 1e-8 is not more than eps).
TEST_CASE("ReduceLROnPlateau skips a cut that would lower the rate by eps or less, as PyTorch does") {
  mlp::ReduceLROnPlateauOptions o;
  o.factor = 0.5;
  o.patience = 0;
  struct Case {
    double base_lr, eps, scale;
    int cuts;
  };
  for (const Case& c : std::vector<Case>{{1e-8, 1e-8, 1.0, 0}, {4e-8, 1e-8, 0.5, 1}, {1e-8, 0.0, 0.125, 3},
                                         {0.01, 1e-8, 0.125, 3}}) {
    FakeTraining fake;
    fake.base_lr = c.base_lr;
    o.eps = c.eps;
    mlp::ReduceLROnPlateau<float> plateau(o);
    fake.feed(plateau, {1.0, 1.1, 1.2, 1.3});
    INFO("base lr ", c.base_lr, ", eps ", c.eps);
    CHECK(fake.ctx.lr_scale == c.scale);
    CHECK(plateau.reductions() == c.cuts);
  }
  o.eps = -1e-9;
  CHECK_THROWS_WITH_AS(mlp::ReduceLROnPlateau<float>{o}, "ReduceLROnPlateau eps has to be finite and >= 0, but got -1e-09",
                       mlp::InvalidArgument);
}

TEST_CASE("early stopping ends fit and BestCheckpoint restores and saves the best epoch") {
  mlp_test::TempDir dir("best");
  Run run;
  // Validation labels shuffled: val_loss soon rises, so early stopping triggers.
  mlp::Rng rng(3);
  for (mlp::Index i = 0; i < run.val.y.size(); ++i) run.val.y[i] = static_cast<int>(rng.below(3));
  mlp::EarlyStopping<float> stop(2);
  mlp::BestCheckpoint<float> best(run.model, dir.file("best.mlp"), mlp::Monitor("val_loss"), {{"note", "test"}});
  run.trainer.add_callback(stop);
  run.trainer.add_callback(best);
  const auto history = run.trainer.fit(run.train_loader, &run.val_loader, 50);
  REQUIRE(history.stopped_early);
  CHECK(static_cast<int>(history.epochs.size()) == stop.stopped_epoch());
  CHECK(history.epochs.size() < 50);
  // The best epoch is the argmin of val_loss, and the model now holds that epoch's state.
  std::size_t argmin = 0;
  for (std::size_t i = 0; i < history.epochs.size(); ++i) {
    if (history.epochs[i].val_loss < history.epochs[argmin].val_loss) argmin = i;
  }
  CHECK(best.best_epoch() == static_cast<int>(argmin) + 1);
  CHECK(best.restored());
  CHECK(mlp_test::same_state(best.best_state(), run.model.state_dict()));
  CHECK(run.trainer.evaluate(run.val_loader).loss == doctest::Approx(history.epochs[argmin].val_loss).epsilon(1e-6));
  // The file holds the same state, its spec and metadata.
  auto loaded = mlp::load_model<float>(dir.file("best.mlp"));
  CHECK(mlp_test::same_state(loaded.model.state_dict(), run.model.state_dict()));
  CHECK(loaded.metadata.at("note") == "test");
  CHECK(loaded.metadata.at("epoch") == std::to_string(argmin + 1));
}

TEST_CASE("a run resumed from an end-of-epoch checkpoint ends bit-identical to an uninterrupted one") {
  mlp_test::TempDir dir("resume");
  Run straight;
  mlp::EarlyStopping<float> stop_a(100);
  straight.trainer.add_callback(stop_a);
  const auto full = straight.trainer.fit(straight.train_loader, &straight.val_loader, 6);

  mlp::TrainerOptions with_checkpoint;
  with_checkpoint.checkpoint = dir.file("run.ckpt");
  {
    Run first(with_checkpoint);
    mlp::EarlyStopping<float> stop(100);
    first.trainer.add_callback(stop);
    first.trainer.set_checkpoint_extra({{"config", "abc"}});
    first.trainer.fit(first.train_loader, &first.val_loader, 3);
  }
  Run second(with_checkpoint);
  mlp::EarlyStopping<float> stop_b(100);
  second.trainer.add_callback(stop_b);
  const auto extra = second.trainer.resume(dir.file("run.ckpt"));
  CHECK(extra.at("config") == "abc");
  CHECK(second.trainer.epochs_done() == 3);
  const auto resumed = second.trainer.fit(second.train_loader, &second.val_loader, 6);
  CHECK(mlp_test::same_state(straight.model.state_dict(), second.model.state_dict()));
  check_same_history(full, resumed);
  CHECK(stop_a.best() == stop_b.best());
}

TEST_CASE("an interrupt mid-epoch writes a checkpoint from which the run ends bit-identical") {
  mlp_test::TempDir dir("interrupt");
  Run straight;
  straight.trainer.fit(straight.train_loader, &straight.val_loader, 3);

  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.ckpt");
  // A callback raises the interrupt flag after 13 batches (epoch 2, batch 5 of 8).
  struct RaiseAfter final : mlp::Callback<float> {
    std::atomic<bool>* flag;
    mlp::Index batches = 0;
    explicit RaiseAfter(std::atomic<bool>* f) : flag(f) {}
    std::string name() const override { return "raise"; }
    void on_batch_end(mlp::TrainContext<float>& /*ctx*/) override {
      if (++batches == 13) flag->store(true);
    }
  };
  std::atomic<bool> interrupted{false};
  {
    Run first(options);
    RaiseAfter raise(&interrupted);
    first.trainer.add_callback(raise);
    first.trainer.set_interrupt_flag(&interrupted);
    const auto h = first.trainer.fit(first.train_loader, &first.val_loader, 3);
    CHECK(h.interrupted);
    CHECK(h.stop_reason == "interrupted after step 13 (epoch 2, batch 5)");
    CHECK(h.epochs.size() == 1);
  }
  Run second(options);
  second.trainer.resume(dir.file("run.ckpt"));
  CHECK(second.trainer.step() == 13);
  const auto resumed = second.trainer.fit(second.train_loader, &second.val_loader, 3);
  CHECK(resumed.stop_reason == "completed 3 epochs");
  CHECK(!resumed.interrupted);
  CHECK(mlp_test::same_state(straight.model.state_dict(), second.model.state_dict()));
  check_same_history(straight.trainer.history(), second.trainer.history());
}

TEST_CASE("resume refuses a checkpoint of another optimizer or architecture") {
  mlp_test::TempDir dir("resume_bad");
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.ckpt");
  Run first(options);
  first.trainer.fit(first.train_loader, &first.val_loader, 1);
  Run other_model({}, small_spec(true, 0.2));
  mlp::SGD<float> sgd(other_model.model.parameters(), {});
  mlp::Trainer<float> sgd_trainer(other_model.model, sgd);
  CHECK_THROWS_WITH_AS(sgd_trainer.resume(dir.file("run.ckpt")),
                       doctest::Contains("was written with optimizer adam, not sgd"), mlp::IoError);
  auto spec = small_spec();
  spec.hidden = {16, 9};
  Run wider({}, spec);
  CHECK_THROWS_WITH_AS(wider.trainer.resume(dir.file("run.ckpt")),
                       doctest::Contains("was written for another model: layer 4 is Linear(bias=1, in_features=16, "
                                         "out_features=8) there, Linear(bias=1, in_features=16, out_features=9) here"),
                       mlp::IoError);
}

TEST_CASE("resume names a checkpoint's impossible position, epoch or best state") {
  mlp_test::TempDir dir("resume_crafted");
  mlp::TrainerOptions options;
  options.checkpoint = dir.file("run.ckpt");
  {
    Run first(options);
    mlp::BestCheckpoint<float> best(first.model, dir.file("best.mlp"));
    first.trainer.add_callback(best);
    first.trainer.fit(first.train_loader, &first.val_loader, 2);  // 8 batches per epoch: step 16
  }
  const std::string good = mlp_test::read_bytes(dir.file("run.ckpt"));
  const auto resume_fails_with = [&](const std::string& key, const std::string& value, const std::string& message) {
    mlp_test::write_bytes(dir.file("run.ckpt"), good);
    mlp_test::patch_text_entry(dir.file("run.ckpt"), key, value);
    Run again(options);
    mlp::BestCheckpoint<float> best(again.model, dir.file("best.mlp"));
    again.trainer.add_callback(best);
    CHECK_THROWS_WITH_AS(again.trainer.resume(dir.file("run.ckpt")), mlp_test::contains(message), mlp::IoError);
  };
  resume_fails_with("step", "-6", "has a bad trainer entry step '-6' (expected 0 to");
  resume_fails_with("step", "17", "has an impossible position: step 17 is not 2 epochs x 8 batches + 0");
  resume_fails_with("epoch", "x", "has a bad trainer entry epoch 'x'");
  resume_fails_with("epoch", "3", "has an impossible position: step 16 is not 3 epochs x 8 batches + 0");
  resume_fails_with("monitor_best_epoch", "?", "has a bad monitor state");
  resume_fails_with("monitor_best_epoch", "3", "has a bad monitor state in 'callback.best_checkpoint.state' (best epoch 3 of 2");
  resume_fails_with("lr_scale", "2", "has a bad trainer entry lr_scale '2' (expected 0 to 1)");
  resume_fails_with("count", "3", "has a history of 3 epochs, but 2 epochs done");
  resume_fails_with("batch_in_epoch", "8", "has a bad trainer entry batch_in_epoch '8' (expected 0 to 7)");
  resume_fails_with("finished", "1", "is marked finished without a stop reason");
}

TEST_CASE("the steady-state training step allocates nothing") {
  if (!mlp_test::counts_allocations()) return;  // the ThreadSanitizer build counts nothing
  mlp::TrainerOptions options;
  options.penalty = mlp::WeightPenalty(1e-5, 1e-4);
  Run run(options);
  run.train_loader.start_epoch(0);
  auto batch = run.train_loader.next();
  run.trainer.train_step(*batch);
  run.trainer.train_step(*batch);
  const mlp_test::AllocationProbe probe;
  for (int i = 0; i < 5; ++i) run.trainer.train_step(*batch);
  const std::size_t allocations = probe.count();
  CHECK(allocations == 0);
  // With a schedule too (a check of its rate once built its message at every step).
  mlp::Trainer<float> scheduled(run.model, run.optimizer, mlp::CosineAnnealingLR(mlp::Epochs{30}), options);
  scheduled.train_step(*batch);
  const mlp_test::AllocationProbe scheduled_probe;
  for (int i = 0; i < 5; ++i) scheduled.train_step(*batch);
  CHECK(scheduled_probe.count() == 0);
}

TEST_CASE("evaluate gives the loss and accuracy and a confusion matrix over every sample") {
  Run run;
  run.trainer.fit(run.train_loader, &run.val_loader, 3);
  const auto result = run.trainer.evaluate(run.val_loader);
  CHECK(result.samples == 120);
  CHECK(result.confusion.total() == 120);
  CHECK(result.confusion.accuracy() == doctest::Approx(result.accuracy));
  CHECK(result.accuracy > 0.45);  // chance is 1/3
  CHECK(result.loss == doctest::Approx(run.trainer.history().epochs.back().val_loss));
}

TEST_CASE("the CSV log has a header and one row per epoch") {
  mlp_test::TempDir dir("csv");
  Run run;
  mlp::CsvLogger<float> csv(dir.file("metrics.csv"));
  run.trainer.add_callback(csv);
  run.trainer.fit(run.train_loader, &run.val_loader, 3);
  const std::string text = mlp::read_text_file(dir.file("metrics.csv"));
  const auto lines = mlp::detail::split(text, '\n');
  REQUIRE(lines.size() == 5);  // header, 3 rows, "" after the last newline
  CHECK(lines[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,penalty");
  CHECK(lines[3].rfind("3,", 0) == 0);
  CHECK(mlp::detail::split(lines[2], ',').size() == 8);
}

TEST_CASE("training steps flush subnormal floats to zero and restore the caller's mode") {
  Run run;
  run.train_loader.start_epoch(0);
  auto batch = run.train_loader.next();
  const unsigned before = mlp::detail::float_mode();
  run.trainer.train_step(*batch);
  CHECK(mlp::detail::float_mode() == before);
#ifdef MLP_HAVE_MXCSR
  {
    const mlp::detail::FlushDenormals flush;
    volatile float tiny = 1e-39f;  // subnormal
    volatile float half = 0.5f;
    CHECK(tiny * half == 0.0f);
  }
  volatile float tiny = 1e-39f;
  volatile float half = 0.5f;
  CHECK(tiny * half != 0.0f);
#endif
}

TEST_CASE("the progress bar prints one summary line per epoch, plus a live line on a terminal") {
  std::ostringstream quiet, live;
  {
    Run run;
    mlp::ProgressBar<float> bar(quiet, /*live=*/false, "[run] ");
    run.trainer.add_callback(bar);
    run.trainer.fit(run.train_loader, &run.val_loader, 2);
  }
  const auto lines = mlp::detail::split(quiet.str(), '\n');
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("[run] epoch 1/2  train loss ", 0) == 0);
  CHECK(lines[0].find(" val loss ") != std::string::npos);
  CHECK(lines[1].rfind("[run] epoch 2/2", 0) == 0);
  CHECK(quiet.str().find('\r') == std::string::npos);
  {
    Run run;
    mlp::ProgressBar<float> bar(live, /*live=*/true);
    run.trainer.add_callback(bar);
    run.trainer.fit(run.train_loader, &run.val_loader, 1);
  }
  CHECK(live.str().find("\repoch 1/1  batch 8/8  loss ") != std::string::npos);  // the last batch is drawn
  CHECK(live.str().find("samples/s  ETA 0:00\033[K") != std::string::npos);
  CHECK(live.str().find("\r\033[Kepoch 1/1  train loss") != std::string::npos);  // cleared, then the summary
}

TEST_CASE("divergence after some epochs keeps the best checkpoint so far") {
  mlp_test::TempDir dir("diverge");
  Run run;
  mlp::BestCheckpoint<float> best(run.model, dir.file("best.mlp"));
  // A callback that poisons the training data after epoch 2: epoch 3 diverges.
  struct Poison final : mlp::Callback<float> {
    mlp::Matrix<float>* x;
    explicit Poison(mlp::Matrix<float>* data) : x(data) {}
    std::string name() const override { return "poison"; }
    void on_epoch_end(mlp::TrainContext<float>& ctx) override {
      if (ctx.log->epoch == 2) x->row(3).setConstant(std::numeric_limits<float>::infinity());
    }
  };
  Poison poison(&run.train.x);
  run.trainer.add_callback(best);
  run.trainer.add_callback(poison);
  const auto history = run.trainer.fit(run.train_loader, &run.val_loader, 5);
  CHECK(history.diverged);
  CHECK(history.epochs.size() == 2);
  CHECK(history.stop_reason.find("at step 17 (epoch 3, batch 1)") != std::string::npos);
  CHECK(history.stop_reason.find("the first non-finite output came from layer 0 (Linear(6, 16))") != std::string::npos);
  REQUIRE(best.best_epoch() >= 1);
  CHECK(best.restored());
  CHECK(run.model.state_dict()[0].value.allFinite());
  CHECK(mlp_test::same_state(mlp::load_model<float>(dir.file("best.mlp")).model.state_dict(), best.best_state()));
}

TEST_CASE("progress lines fit the terminal's width, with huge values too (a checkpoint's sums)") {
  mlp::EpochLog huge;
  huge.epoch = 3;
  huge.train_loss = 1e300;
  huge.train_acc = 1e300;
  huge.val_loss = -1e300;
  huge.val_acc = 1e300;
  huge.lr = 1e300;
  huge.seconds = 1e300;
  const std::string unlimited = mlp::epoch_summary(huge, 30);
  CHECK(unlimited.size() > 256);  // longer than the fixed buffer that once overflowed
  for (const int width : {40, 60, 80, 120}) {
    INFO("width " << width);
    CHECK(mlp::epoch_summary(huge, 30, width).size() <= static_cast<std::size_t>(width));
  }
  // Every line a one-epoch run prints at `width` columns fits them. A width of 1: the live line was
  // printed whole (a width of 0 meant "no limit").
  const std::pair<std::string, int> terminals[] = {{"[a long run name] ", 60}, {"", 1}};
  for (const auto& terminal : terminals) {
    const std::string& prefix = terminal.first;
    const int width = terminal.second;
    std::ostringstream out;
    {
      Run run;
      mlp::ProgressBar<float> bar(out, /*live=*/true, prefix, width);
      run.trainer.add_callback(bar);
      run.trainer.fit(run.train_loader, &run.val_loader, 1);
    }
    for (const std::string& line : mlp::detail::split(out.str(), '\n')) {
      for (const std::string& part : mlp::detail::split(line, '\r')) {
        std::string visible = part;  // without the erase-to-end-of-line codes, which take no column
        for (auto at = visible.find("\033[K"); at != std::string::npos; at = visible.find("\033[K")) visible.erase(at, 3);
        INFO("width " << width << ", line '" << visible << "'");
        CHECK(visible.size() <= static_cast<std::size_t>(width));
      }
    }
  }
}
