// A finished run as summary.json records it, and what a run's model file carries to be used
// without the run (the data set, its preprocessing and split, the configuration). A run folder
// holds a finished run when its summary matches the configuration and data split AND the best
// model it points to loads; anything less is not trusted.
#pragma once

#include "mlp/data/prepared.hpp"
#include "mlp/io/atomic_file.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/train/history.hpp"
#include "mlp_app/json.hpp"
#include "mlp_app/run_config.hpp"

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>

namespace mlp::app {

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
          {"config", config.identity().dump(0)}};  // no thread count: the same model bytes at any count
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
  for (const char* key : {"mean", "stddev"}) {
    for (const auto& v : detail::split(get(key), ',')) {
      double x = 0.0;
      detail::require<IoError>(detail::parse_double(v, x) && std::isfinite(x), "'", path, "' has a bad ", key,
                               " '", v, "' in its metadata");
      (std::string(key) == "mean" ? st.mean : st.stddev).push_back(x);
    }
  }
  try {
    st.validate();
  } catch (const InvalidArgument& e) {
    detail::fail<IoError>("'", path, "' has unusable preprocessing statistics: ", e.what());
  }
  return st;
}

// What a run folder holds for a configuration: nothing finished, its finished run, or the finished
// run of another configuration or data split (which a new run there would replace).
struct FolderRun {
  enum class Kind { None, Finished, OtherRun };
  Kind kind = Kind::None;
  std::optional<RunResult> result;  // Finished
  std::string difference;           // OtherRun: what differs, in words
};

namespace internal {

// A summary read back, every field checked; the best model it points to must load and be the
// model the summary describes.
inline RunResult read_summary(const std::filesystem::path& out, const Json& s, const RunConfig& config) {
  RunResult r;
  r.config = config;
  for (const Json& e : s.at("epochs").elements()) r.history.epochs.push_back(epoch_from_json(e));
  const Json& t = s.at("training");
  r.history.stop_reason = t.at("stop_reason").string();
  r.history.stopped_early = t.at("stopped_early").boolean();
  r.history.diverged = t.at("diverged").boolean();
  r.best_epoch = static_cast<int>(t.at("best_epoch").integer(0, kMaxEpochs));
  r.train_seconds = t.at("seconds").number();
  r.parameters = static_cast<Index>(s.at("model").at("parameters").integer(0, 1LL << 50));
  detail::require(r.best_epoch <= static_cast<int>(r.history.epochs.size()), "best epoch ", r.best_epoch, " of ",
                  r.history.epochs.size(), " epochs");
  r.test_best = eval_from_json(s.at("test").at("best"));
  r.test_last = eval_from_json(s.at("test").at("last"));
  if (r.best_epoch > 0) {
    const auto best = load_model<float>(out / "best.mlp");
    detail::require(best.model.parameter_count() == r.parameters, "best.mlp has ", best.model.parameter_count(),
                    " parameters, the summary ", r.parameters);
    detail::require(best.metadata.count("epoch") && best.metadata.at("epoch") == std::to_string(r.best_epoch),
                    "best.mlp is not the summary's best epoch ", r.best_epoch);
  }
  r.cached = true;
  r.summary = s;
  return r;
}

}  // namespace internal

// Why a stored run (its configuration and data split) is another run than this configuration on
// this split, for messages ("data split 1a2b3c4d there, 5e6f7a8b here", "precision bf16 here, fp32
// there"); empty when it is the same run (the thread count may differ, RunConfig::identity).
inline std::string run_mismatch(const RunConfig& config, const std::string& split_fingerprint,
                                const RunConfig& stored, const std::string& stored_split) {
  if (stored_split != split_fingerprint) {
    return detail::concat("data split ", stored_split, " there, ", split_fingerprint, " here");
  }
  if (stored == config) return "";
  const std::string difference = config.difference(stored);
  return difference.empty() ? "another configuration" : difference;
}

// Looks at the run folder `out` for this configuration and data split. A summary that cannot be
// read, or whose best model is missing or corrupt, is not a finished run (it is trained again).
inline FolderRun inspect_run_folder(const std::filesystem::path& out, const RunConfig& config,
                                    const std::string& split_fingerprint) {
  FolderRun f;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(out / "summary.json", ec)) return f;
  try {
    const Json s = Json::parse(read_text_file(out / "summary.json"));
    const RunConfig stored = RunConfig::from_json(s.at("config"));
    f.difference = run_mismatch(config, split_fingerprint, stored, s.at("data").at("split_fingerprint").string());
    if (!f.difference.empty()) {
      f.kind = FolderRun::Kind::OtherRun;
      return f;
    }
    f.result = internal::read_summary(out, s, config);
    f.kind = FolderRun::Kind::Finished;
  } catch (const Error&) {
    f = {};  // unreadable, incomplete or from another version: not a finished run
  }
  return f;
}

// The finished run in `out`, if its summary.json holds this configuration and data split and its
// best model loads.
inline std::optional<RunResult> load_finished_run(const std::filesystem::path& out, const RunConfig& config,
                                                  const std::string& split_fingerprint) {
  return inspect_run_folder(out, config, split_fingerprint).result;
}

// The finished run in `out` whatever its configuration, with the fingerprint of its data split:
// for comparing runs of different configurations (the study's --compare-to), where
// inspect_run_folder would only say that the run is another one. None when `out` holds no
// finished run, or one whose summary or best model cannot be read.
struct StoredRun {
  RunResult result;  // result.config: the configuration it ran with
  std::string split_fingerprint;
};

inline std::optional<StoredRun> read_finished_run(const std::filesystem::path& out) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(out / "summary.json", ec)) return std::nullopt;
  try {
    const Json s = Json::parse(read_text_file(out / "summary.json"));
    const RunConfig stored = RunConfig::from_json(s.at("config"));
    return StoredRun{internal::read_summary(out, s, stored), s.at("data").at("split_fingerprint").string()};
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace mlp::app
