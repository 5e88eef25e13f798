// One complete, logged, checkpointed training run on a prepared data set, as EXPERIMENTS.md
// describes it. Into `out` it writes:
//   metrics.csv              one row per epoch
//   events.out.tfevents.*    the same scalars for TensorBoard
//   best.mlp                 the model of the epoch with the lowest val_loss (with preprocessing)
//   checkpoint.mlpckpt       while training: everything needed to resume (removed at the end)
//   summary.json             configuration, data, model, training, and the test results of the
//                            best checkpoint and of the last epoch
// A run whose summary.json matches its configuration and data split is recognized as finished. A
// run that does not resume from a checkpoint first removes those files of an earlier run.
#pragma once

#include "mlp/data/dataloader.hpp"
#include "mlp/data/prepared.hpp"
#include "mlp/io/atomic_file.hpp"
#include "mlp/io/file_kind.hpp"
#include "mlp_app/json.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/train/checkpoint.hpp"
#include "mlp/train/csv_logger.hpp"
#include "mlp/train/early_stopping.hpp"
#include "mlp/train/progress_bar.hpp"
#include "mlp_app/run_config.hpp"
#include "mlp_app/model_builder.hpp"
#include "mlp_app/run_folder.hpp"
#include "mlp_app/run_metadata.hpp"
#include "mlp_app/run_summary.hpp"
#include "mlp/train/tensorboard_logger.hpp"
#include "mlp/train/trainer.hpp"

#include <algorithm>
#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

namespace mlp::app {

struct RunOptions {
  std::ostream* progress = nullptr;  // epoch summaries (and a live line when live_progress)
  bool live_progress = false;
  std::string progress_prefix;       // starts every progress line
  int progress_width = 0;            // the terminal's columns (0: no limit)
  bool resume = true;                // continue from out/checkpoint.mlpckpt when it matches
  bool adopt_folder = false;         // use a folder with files but no run marker (--force)
  const std::atomic<bool>* interrupt = nullptr;  // stop (with a checkpoint) when it becomes true
};

namespace internal {

inline std::vector<Index> first_n(const std::vector<Index>& indices, Index n) {
  if (n <= 0 || n >= static_cast<Index>(indices.size())) return indices;
  return std::vector<Index>(indices.begin(), indices.begin() + n);
}

// Keeps the weights of the last epoch before BestCheckpoint puts the best ones back (register it
// before BestCheckpoint: callbacks run in order).
template <class S>
class LastState final : public Callback<S> {
 public:
  std::string name() const override { return "last_state"; }
  void on_train_end(TrainContext<S>& ctx) override { state = ctx.model.state_dict(); }
  StateDict<S> state;
};

inline Shape image_shape(const Dataset& d) { return {d.shape.channels, d.shape.height, d.shape.width}; }

// Refuses a model that would not fit in this machine's memory, before allocating any of it.
inline void check_memory(const RunConfig& config, const Dataset& train) {
  const ArchEstimate e = estimate_architecture(config.blocks(), image_shape(train), train.classes());
  const double need = e.training_bytes(config.batch_size, static_cast<int>(std::thread::hardware_concurrency()));
  const double have = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  detail::require(have <= 0.0 || need < 0.8 * have, "the model (", detail::concat(e.parameters / 1e6),
                  " million parameters) needs about ", detail::concat(need / (1 << 30)),
                  " GiB of memory to train at batch size ", config.batch_size, " and evaluate at ", kEvaluationBatch, ", more than this machine's ",
                  detail::concat(have / (1 << 30)), " GiB allow");
}

// BatchNorm cannot train on a batch of one sample: a training set that leaves a last batch of 1
// drops it (PyTorch users set drop_last for the same reason), and the summary says so.
inline bool has_batch_norm(const RunConfig& config) {
  bool batch_norm = false;
  for (const ArchBlock& b : config.blocks()) batch_norm = batch_norm || b.batch_norm;
  return batch_norm;
}
inline bool drops_last_batch(const RunConfig& config, Index train_samples) {
  return has_batch_norm(config) && train_samples % config.batch_size == 1 && train_samples > 1;
}
// ... and where every batch would hold one sample, a model with BatchNorm1d (after a dense layer:
// one value per feature and sample) is refused before the run starts (it failed at the first step,
// pointing at a drop_last the programs do not have). BatchNorm2d averages over the pixels too, so
// one image is enough for it.
inline void check_batch_norm_batches(const RunConfig& config, Index train_samples) {
  bool dense_batch_norm = false;
  for (const ArchBlock& b : config.blocks()) dense_batch_norm = dense_batch_norm || (b.batch_norm && b.kind == ArchBlock::Kind::Dense);
  if (!dense_batch_norm) return;
  detail::require(config.batch_size >= 2, "BatchNorm cannot train on batches of 1 sample (batch size ",
                  config.batch_size, "): use a batch size of 2 or more, or a model without BatchNorm");
  detail::require(train_samples >= 2, "BatchNorm cannot train on a training set of ", train_samples,
                  " sample: it needs at least 2, or a model without BatchNorm");
}

}  // namespace internal

// Trains, evaluates and writes one run (see the top of this file).
inline RunResult run_training(const RunConfig& config, const PreparedData& data,
                              const std::filesystem::path& out, const RunOptions& options = {}) {
  config.validate();
  detail::require(config.threads == Eigen::nbThreads(), "the run is configured for ", config.threads,
                  " threads, but the matrix products use ", Eigen::nbThreads());
  const Dataset& train_set = data.data.train;
  internal::check_memory(config, train_set);
  internal::check_batch_norm_batches(config, config.train_images(static_cast<Index>(data.split.train.size())));
  const RunFolder folder(out, options.adopt_folder);
  for (const char* name : {"best.mlp", "checkpoint.mlpckpt", "metrics.csv", "summary.json"}) {
    remove_stale_temporaries(out / name);  // left by a process killed mid-write
    // (a folder named checkpoint.mlpckpt was taken for no checkpoint, and removed)
    if (const std::string problem = detail::non_file_problem(out / name); !problem.empty()) {
      detail::fail<IoError>("'", (out / name).string(), "' ", problem, ", where the run keeps a file of its own; "
                            "move it away");
    }
  }
  Sequential<float> model = build_run_model(config, internal::image_shape(train_set), train_set.classes());
  auto optimizer = config.make_optimizer<float>(model.parameters());

  const auto train_indices =
      internal::first_n(data.split.train, config.train_images(static_cast<Index>(data.split.train.size())));
  const auto val_indices = internal::first_n(
      data.split.validation, config.validation_images(static_cast<Index>(data.split.validation.size())));
  std::vector<Index> test_indices(static_cast<std::size_t>(data.data.test.size()));
  for (std::size_t i = 0; i < test_indices.size(); ++i) test_indices[i] = static_cast<Index>(i);
  const bool drop_last = internal::drops_last_batch(config, static_cast<Index>(train_indices.size()));
  DataLoader<float> train_loader(train_set, train_indices, data.standardizer,
                                 {config.batch_size, true, drop_last, derive_seed(config.seed, "shuffle")});
  DataLoader<float> val_loader(train_set, val_indices, data.standardizer, {kEvaluationBatch, false, false, 0});
  DataLoader<float> test_loader(data.data.test, test_indices, data.standardizer, {kEvaluationBatch, false, false, 0});
  const auto schedule = config.make_schedule(train_loader.batches_per_epoch());

  TrainerOptions trainer_options;
  trainer_options.penalty = WeightPenalty(config.l1, config.l2);
  trainer_options.label_smoothing = config.label_smoothing;
  trainer_options.checkpoint = out / "checkpoint.mlpckpt";
  Trainer<float> trainer = schedule ? Trainer<float>(model, *optimizer, *schedule, trainer_options)
                                    : Trainer<float>(model, *optimizer, trainer_options);
  const DataIdentity identity(data);
  const TextSection extra = {{"config", config.to_json().dump(0)},
                             {"split_fingerprint", identity.split},
                             {"data_fingerprint", identity.data}};
  trainer.set_checkpoint_extra(extra);
  trainer.set_interrupt_flag(options.interrupt);

  std::optional<ProgressBar<float>> progress;
  if (options.progress != nullptr) {
    progress.emplace(*options.progress, options.live_progress, options.progress_prefix, options.progress_width);
    trainer.add_callback(*progress);
  }
  std::optional<EarlyStopping<float>> early_stopping;
  if (config.patience > 0) {
    early_stopping.emplace(config.patience, Monitor(metric::val_loss, MonitorMode::Min, config.min_delta));
    trainer.add_callback(*early_stopping);
  }
  internal::LastState<float> last_state;
  trainer.add_callback(last_state);
  BestCheckpoint<float> best(model, out / "best.mlp", Monitor(metric::val_loss), run_metadata(config, data));
  trainer.add_callback(best);
  CsvLogger<float> csv(out / "metrics.csv");
  trainer.add_callback(csv);
  TensorBoardLogger<float> tensorboard(out);
  trainer.add_callback(tensorboard);

  RunResult result;
  result.config = config;
  std::error_code ec;
  const bool resuming = options.resume && std::filesystem::is_regular_file(trainer_options.checkpoint, ec);
  if (!resuming) {
    // A fresh run owns its folder: a best model or summary left by an earlier run would otherwise
    // pass for this run's if this one ends before writing its own (divergence in epoch 1, a kill).
    for (const char* name : {"best.mlp", "checkpoint.mlpckpt", "summary.json"}) {
      std::filesystem::remove(out / name, ec);
    }
    remove_files_with_prefix(out, "events.out.tfevents.");  // (the logger refuses another run's)
  }
  if (resuming) {
    const auto in = ContainerReader::open(trainer_options.checkpoint, kCheckpointMagic,
                                          kModelFormatVersion, "an mlp training checkpoint",
                                          mlp_file_kinds());
    const std::string why = [&]() -> std::string {
      try {
        // (a checkpoint from before 2026-12-06 holds no data_fingerprint)
        return run_mismatch(config, identity, RunConfig::from_json(Json::parse(in.value("extra", "config"))),
                            DataIdentity(in.value("extra", "split_fingerprint"),
                                         in.text("extra").count("data_fingerprint") > 0
                                             ? in.value("extra", "data_fingerprint")
                                             : ""));
      } catch (const Error&) {
        return "a configuration that cannot be read";
      }
    }();
    if (!why.empty()) {
      detail::fail("'", trainer_options.checkpoint.string(), "' belongs to a run with another configuration (", why,
                   "); resume with the same flags, or remove it, or use another output folder");
    }
    trainer.resume(trainer_options.checkpoint);
    result.resumed = true;
  }
  result.history = trainer.fit(train_loader, &val_loader, config.epochs);
  if (result.history.interrupted) {
    result.interrupted = true;
    return result;
  }
  // The model now holds the best checkpoint (BestCheckpoint restored it), unless no epoch had a
  // finite val_loss.
  result.best_epoch = best.best_epoch();
  result.parameters = model.parameter_count();
  for (const EpochLog& e : result.history.epochs) result.train_seconds += e.seconds;
  result.test_best = trainer.evaluate(test_loader);
  if (!last_state.state.empty()) {
    const StateDict<float> best_state = model.state_dict();
    model.load_state_dict(last_state.state);
    result.test_last = trainer.evaluate(test_loader);
    model.load_state_dict(best_state);
  } else {
    result.test_last = result.test_best;
  }

  Json s = Json::object();
  s["config"] = config.to_json();
  Json& d = s["data"];
  d["dataset"] = to_string(data.kind);
  d["dir"] = data.dir.string();
  d["split_fingerprint"] = identity.split;
  d["data_fingerprint"] = identity.data;
  d["train_samples"] = static_cast<long long>(train_indices.size());
  d["validation_samples"] = static_cast<long long>(val_indices.size());
  d["test_samples"] = data.data.test.size();
  d["mean"] = Json::array_of(data.standardizer.mean);
  d["stddev"] = Json::array_of(data.standardizer.stddev);
  d["class_names"] = Json::array_of(train_set.class_names);
  Json& m = s["model"];
  m["architecture"] = config.describe_model(train_set.features(), train_set.classes());
  m["parameters"] = result.parameters;
  m["layers"] = model.describe();
  m["summary"] = model.summary();
  Json& t = s["training"];
  t["epochs_run"] = static_cast<long long>(result.history.epochs.size());
  t["best_epoch"] = result.best_epoch;
  const EpochLog* best_log = result.best_epoch > 0 ? &result.history.epochs[static_cast<std::size_t>(result.best_epoch - 1)] : nullptr;
  t["best_val_loss"] = best_log ? best_log->val_loss : std::nan("");
  t["best_val_acc"] = best_log ? best_log->val_acc : std::nan("");
  t["stop_epoch"] = static_cast<long long>(result.history.epochs.size());
  t["stop_reason"] = result.history.stop_reason;
  t["stopped_early"] = result.history.stopped_early;
  t["diverged"] = result.history.diverged;
  t["seconds"] = result.train_seconds;
  t["steps"] = static_cast<double>(trainer.step());
  t["resumed"] = result.resumed;
  t["threads"] = config.threads;
  t["dropped_last_batch"] = drop_last;
  Json& test = s["test"];
  test["best"] = internal::eval_json(result.test_best, true);
  test["last"] = internal::eval_json(result.test_last, true);
  Json epochs = Json::array();
  for (const EpochLog& e : result.history.epochs) epochs.push_back(internal::epoch_json(e));
  s["epochs"] = epochs;
  write_file_atomically(out / "summary.json", s.dump(2) + "\n");
  std::filesystem::remove(trainer_options.checkpoint, ec);  // the summary marks the run finished
  result.summary = std::move(s);
  return result;
}

}  // namespace mlp::app
