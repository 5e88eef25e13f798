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
#include "mlp_app/json.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/train/checkpoint.hpp"
#include "mlp/train/csv_logger.hpp"
#include "mlp/train/early_stopping.hpp"
#include "mlp/train/progress_bar.hpp"
#include "mlp_app/run_config.hpp"
#include "mlp/train/tensorboard_logger.hpp"
#include "mlp/train/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

namespace mlp::app {

struct RunOptions {
  std::ostream* progress = nullptr;  // epoch summaries (and a live line when live_progress)
  bool live_progress = false;
  std::string progress_prefix;       // starts every progress line
  bool resume = true;                // continue from out/checkpoint.mlpckpt when it matches
  const std::atomic<bool>* interrupt = nullptr;  // stop (with a checkpoint) when it becomes true
  int threads = 1;                   // recorded in the summary
};

struct RunResult {
  RunConfig config;
  History history;
  int best_epoch = 0;            // 1-based epoch of the lowest val_loss (0: none)
  EvalResult test_best;          // the best checkpoint on the test set
  EvalResult test_last;          // the last epoch's weights on the test set
  double train_seconds = 0.0;    // sum of the epochs' times
  Index parameters = 0;
  bool interrupted = false;      // stopped from outside; resume with the same configuration
  bool resumed = false;          // continued a checkpoint
  bool cached = false;           // summary.json already held this run: nothing was recomputed
  Json summary;
};

namespace internal {

inline std::vector<Index> first_n(const std::vector<Index>& indices, Index n) {
  if (n <= 0 || n >= static_cast<Index>(indices.size())) return indices;
  return std::vector<Index>(indices.begin(), indices.begin() + n);
}

inline Json eval_json(const EvalResult& r, bool details) {
  Json j = Json::object();
  j["loss"] = r.loss;
  j["accuracy"] = r.accuracy;
  j["samples"] = r.samples;
  if (details) {
    Json per_class = Json::array();
    Json confusion = Json::array();
    for (Index k = 0; k < r.confusion.classes(); ++k) {
      per_class.push_back(r.confusion.class_accuracy(k));
      Json row = Json::array();
      for (Index p = 0; p < r.confusion.classes(); ++p) row.push_back(r.confusion.count(k, p));
      confusion.push_back(row);
    }
    j["per_class_accuracy"] = per_class;
    j["confusion"] = confusion;
  }
  return j;
}

inline EvalResult eval_from_json(const Json& j) {
  EvalResult r;
  r.loss = j.at("loss").number();
  r.accuracy = j.at("accuracy").number();
  r.samples = static_cast<Index>(j.at("samples").integer(0, RunConfig::kMaxCount));
  if (j.contains("confusion")) {
    const auto& rows = j.at("confusion").elements();
    detail::require(rows.size() <= 100000, "a confusion matrix of ", rows.size(), " classes");
    r.confusion = ConfusionMatrix(static_cast<Index>(rows.size()));
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const auto& row = rows[k].elements();
      detail::require(row.size() == rows.size(), "a confusion matrix row of ", row.size(), " entries for ",
                      rows.size(), " classes");
      for (std::size_t p = 0; p < row.size(); ++p) {
        r.confusion.add_count(static_cast<Index>(k), static_cast<Index>(p),
                              static_cast<Index>(row[p].integer(0, RunConfig::kMaxCount)));
      }
    }
  }
  return r;
}

inline Json epoch_json(const EpochLog& e) {
  Json j = Json::object();
  j["epoch"] = e.epoch;
  j["train_loss"] = e.train_loss;
  j["train_acc"] = e.train_acc;
  j["val_loss"] = e.val_loss;
  j["val_acc"] = e.val_acc;
  j["lr"] = e.lr;
  j["seconds"] = e.seconds;
  j["penalty"] = e.penalty;
  j["steps"] = static_cast<double>(e.steps);
  return j;
}

inline EpochLog epoch_from_json(const Json& j) {
  EpochLog e;
  e.epoch = static_cast<int>(j.at("epoch").integer(1, kMaxEpochs));
  e.train_loss = j.at("train_loss").number();
  e.train_acc = j.at("train_acc").number();
  e.val_loss = j.at("val_loss").number();
  e.val_acc = j.at("val_acc").number();
  e.lr = j.at("lr").number();
  e.seconds = j.at("seconds").number();
  e.penalty = j.at("penalty").number();
  e.steps = static_cast<std::int64_t>(j.at("steps").integer(0, kMaxSteps));
  return e;
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

}  // namespace internal

// What a model file must carry to be evaluated later without the run: the data set and its
// preprocessing, the split, the class names, the configuration.
inline TextSection run_metadata(const RunConfig& config, const PreparedData& data) {
  const Dataset& train = data.data.train;
  return {{"dataset", to_string(data.kind)},
          {"channels", std::to_string(train.shape.channels)},
          {"height", std::to_string(train.shape.height)},
          {"width", std::to_string(train.shape.width)},
          {"mean", detail::join(data.standardizer.mean)},
          {"stddev", detail::join(data.standardizer.stddev)},
          {"class_names", [&] {
             std::string names;
             for (const auto& n : train.class_names) names += (names.empty() ? "" : "\n") + n;
             return names;
           }()},
          {"split_seed", std::to_string(config.split_seed)},
          {"validation", std::to_string(config.validation)},
          {"split_fingerprint", data.split.fingerprint_hex()},
          {"config", config.to_json().dump(0)}};
}

// The Standardizer stored in a model file's metadata.
inline Standardizer standardizer_from_metadata(const TextSection& meta, const std::string& path) {
  auto get = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    detail::require<IoError>(it != meta.end(), "'", path, "' has no '", key,
                             "' in its metadata (was it written by the train program?)");
    return it->second;
  };
  Standardizer st;
  std::int64_t h = 0, w = 0;
  detail::require<IoError>(detail::parse_int64(get("height"), h) && detail::parse_int64(get("width"), w) &&
                               h > 0 && w > 0 && h < 65536 && w < 65536,
                           "'", path, "' has a bad image size in its metadata");
  st.pixels_per_channel = static_cast<Index>(h * w);
  for (const auto& v : detail::split(get("mean"), ',')) st.mean.push_back(std::strtod(v.c_str(), nullptr));
  for (const auto& v : detail::split(get("stddev"), ',')) st.stddev.push_back(std::strtod(v.c_str(), nullptr));
  try {
    st.validate();
  } catch (const InvalidArgument& e) {
    detail::fail<IoError>("'", path, "' has unusable preprocessing statistics: ", e.what());
  }
  return st;
}

// The finished run in `out`, if its summary.json holds this configuration and data split.
inline std::optional<RunResult> load_finished_run(const std::filesystem::path& out,
                                                  const RunConfig& config,
                                                  const std::string& split_fingerprint) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(out / "summary.json", ec) ||
      !std::filesystem::is_regular_file(out / "best.mlp", ec)) {
    return std::nullopt;
  }
  try {
    const Json s = Json::parse(read_text_file(out / "summary.json"));
    if (RunConfig::from_json(s.at("config")) != config ||
        s.at("data").at("split_fingerprint").string() != split_fingerprint) {
      return std::nullopt;
    }
    RunResult r;
    r.config = config;
    for (const Json& e : s.at("epochs").elements()) r.history.epochs.push_back(internal::epoch_from_json(e));
    const Json& t = s.at("training");
    r.history.stop_reason = t.at("stop_reason").string();
    r.history.stopped_early = t.at("stopped_early").boolean();
    r.history.diverged = t.at("diverged").boolean();
    r.best_epoch = static_cast<int>(t.at("best_epoch").integer(0, kMaxEpochs));
    r.train_seconds = t.at("seconds").number();
    r.parameters = static_cast<Index>(s.at("model").at("parameters").integer(0, 1LL << 50));
    detail::require(r.best_epoch <= static_cast<int>(r.history.epochs.size()), "best epoch ", r.best_epoch,
                    " of ", r.history.epochs.size(), " epochs");
    r.test_best = internal::eval_from_json(s.at("test").at("best"));
    r.test_last = internal::eval_from_json(s.at("test").at("last"));
    r.cached = true;
    r.summary = s;
    return r;
  } catch (const Error&) {
    return std::nullopt;  // unreadable or from another version: recompute
  }
}

// Trains, evaluates and writes one run (see the top of this file).
inline RunResult run_training(const RunConfig& config, const PreparedData& data,
                              const std::filesystem::path& out, const RunOptions& options = {}) {
  config.validate();
  ensure_directory(out);
  for (const char* name : {"best.mlp", "checkpoint.mlpckpt", "metrics.csv", "summary.json"}) {
    remove_stale_temporaries(out / name);  // left by a process killed mid-write
  }
  const Dataset& train_set = data.data.train;
  const MlpSpec spec = config.model_spec(train_set.features(), train_set.classes());
  ParameterizedMLP<float> model(spec, config.seed);
  auto optimizer = config.make_optimizer<float>(model.parameters());

  const auto train_indices = internal::first_n(data.split.train, config.train_limit);
  const auto val_indices = internal::first_n(
      data.split.validation, config.train_limit > 0 ? std::max<Index>(config.train_limit / 5, 1) : 0);
  std::vector<Index> test_indices(static_cast<std::size_t>(data.data.test.size()));
  for (std::size_t i = 0; i < test_indices.size(); ++i) test_indices[i] = static_cast<Index>(i);
  DataLoader<float> train_loader(train_set, train_indices, data.standardizer,
                                 {config.batch_size, true, false, derive_seed(config.seed, "shuffle")});
  DataLoader<float> val_loader(train_set, val_indices, data.standardizer, {1000, false, false, 0});
  DataLoader<float> test_loader(data.data.test, test_indices, data.standardizer, {1000, false, false, 0});
  const auto schedule = config.make_schedule(train_loader.batches_per_epoch());

  TrainerOptions trainer_options;
  trainer_options.penalty = WeightPenalty(config.l1, config.l2);
  trainer_options.label_smoothing = config.label_smoothing;
  trainer_options.checkpoint = out / "checkpoint.mlpckpt";
  Trainer<float> trainer = schedule ? Trainer<float>(model, *optimizer, *schedule, trainer_options)
                                    : Trainer<float>(model, *optimizer, trainer_options);
  const TextSection extra = {{"config", config.to_json().dump(0)},
                             {"split_fingerprint", data.split.fingerprint_hex()}};
  trainer.set_checkpoint_extra(extra);
  trainer.set_interrupt_flag(options.interrupt);

  std::optional<ProgressBar<float>> progress;
  if (options.progress != nullptr) {
    progress.emplace(*options.progress, options.live_progress, options.progress_prefix);
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
  }
  if (resuming) {
    const auto in = ContainerReader::open(trainer_options.checkpoint, kCheckpointMagic,
                                          kModelFormatVersion, "an mlp training checkpoint",
                                          mlp_file_kinds());
    if (in.text("extra") != extra) {
      detail::fail("'", trainer_options.checkpoint.string(), "' belongs to a run with another "
                   "configuration or data split; remove it or use another output folder");
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
  d["split_fingerprint"] = data.split.fingerprint_hex();
  d["train_samples"] = static_cast<long long>(train_indices.size());
  d["validation_samples"] = static_cast<long long>(val_indices.size());
  d["test_samples"] = data.data.test.size();
  d["mean"] = Json::array_of(data.standardizer.mean);
  d["stddev"] = Json::array_of(data.standardizer.stddev);
  d["class_names"] = Json::array_of(train_set.class_names);
  Json& m = s["model"];
  m["spec"] = spec.describe();
  m["parameters"] = result.parameters;
  m["layers"] = model.describe();
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
  t["threads"] = options.threads;
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
