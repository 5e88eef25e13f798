// A finished run as summary.json records it. A run folder holds a finished run when its summary
// matches the configuration and data split AND the best model it points to loads; anything less is
// not trusted.
#pragma once

#include "mlp/data/prepared.hpp"
#include "mlp/io/atomic_file.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/train/history.hpp"
#include "mlp_app/json.hpp"
#include "mlp_app/run_config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>
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
    // samples whose logits held a NaN, per true class: written only when there are some
    Json unpredicted = Json::array();
    Index none = 0;
    for (Index k = 0; k < r.confusion.classes(); ++k) {
      unpredicted.push_back(r.confusion.unpredicted(k));
      none += r.confusion.unpredicted(k);
    }
    if (none > 0) j["unpredicted"] = unpredicted;
  }
  return j;
}

// The checks of the numbers a summary holds, so that a file edited or damaged by hand cannot put
// an accuracy of 500% or a loss of 1e308 into a report: the field, as a path in the file
// ("test.best.accuracy", "epochs[2].val_acc"), its value and what it must be. Accuracies are
// fractions (0 to 1); losses are those of float models, so at most float's largest value; null
// (how NaN is written) only where training diverged.
inline std::string field_name(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}
[[noreturn]] inline void bad_field(const std::string& field, double v, const char* expected) {
  detail::fail<IoError>(field, " is ", std::isnan(v) ? std::string("null") : detail::number_text(v), " (expected ",
                        expected, ")");
}
inline constexpr double kMaxLoss = 3.4028234663852886e38;  // std::numeric_limits<float>::max()
inline void check_fraction(double v, const std::string& field) {
  if (!(v >= 0.0 && v <= 1.0)) bad_field(field, v, "0 to 1");
}
inline void check_loss(double v, const std::string& field, bool null_allowed) {
  if (std::isnan(v) && null_allowed) return;
  if (!(v >= 0.0 && v <= kMaxLoss)) {
    bad_field(field, v, null_allowed ? "0 to 3.4e38, or null" : "0 to 3.4e38; null only after divergence");
  }
}
inline void check_non_negative(double v, const std::string& field) {
  if (!(std::isfinite(v) && v >= 0.0)) bad_field(field, v, "a finite number >= 0");
}
// A run's time: at most 10^9 s (about 32 years); 1e300 s went into the report as a 301-digit number.
inline void check_seconds(double v, const std::string& field) {
  if (!(v >= 0.0 && v <= 1e9)) bad_field(field, v, "0 to 1e9 seconds");
}
// A member's value, with the field named when it is missing or not a number.
inline const Json& member(const Json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) detail::fail<IoError>(field_name(where, key), " is missing");
  return j.at(key);
}
inline double number_at(const Json& j, const char* key, const std::string& where) {
  const Json& v = member(j, key, where);
  try {
    return v.number();
  } catch (const Error&) {
    detail::fail<IoError>(field_name(where, key), " is not a number");
  }
}
inline long long integer_at(const Json& j, const char* key, const std::string& where, long long min, long long max) {
  const Json& v = member(j, key, where);
  try {
    return v.integer(min, max);
  } catch (const Error&) {
    detail::fail<IoError>(field_name(where, key), " is ", v.is_null() ? "null" : v.dump(0),
                          " (expected a whole number from ", min, " to ", max, ")");
  }
}

// An evaluation as the summary records it, every number checked (see above); `where` names it in
// messages ("test.best"), `classes` is the number of classes (negative: not known, then that of its
// confusion matrix), which its per-class accuracies and confusion matrix must have, and a null
// loss is accepted only when `diverged`.
inline EvalResult eval_from_json(const Json& j, const std::string& where = "", bool diverged = false,
                                 long long classes = -1) {
  EvalResult r;
  r.loss = number_at(j, "loss", where);
  check_loss(r.loss, field_name(where, "loss"), diverged);
  r.accuracy = number_at(j, "accuracy", where);
  check_fraction(r.accuracy, field_name(where, "accuracy"));
  r.samples = static_cast<Index>(integer_at(j, "samples", where, 1, RunConfig::kMaxCount));
  if (j.contains("confusion")) {
    const std::string field = field_name(where, "confusion");
    if (j.at("confusion").type() != Json::Type::Array) detail::fail<IoError>(field, " is not a list");
    const auto& rows = j.at("confusion").elements();
    if (rows.size() > 100000 || (classes >= 0 && rows.size() != static_cast<std::size_t>(classes))) {
      detail::fail<IoError>(field, " has ", rows.size(), " rows (expected one per class",
                            classes >= 0 ? detail::concat(": ", classes) : std::string(), ")");
    }
    r.confusion = ConfusionMatrix(static_cast<Index>(rows.size()));
    const auto count_at = [](const Json& v, const std::string& entry) {
      try {
        return static_cast<Index>(v.integer(0, RunConfig::kMaxCount));
      } catch (const Error&) {
        detail::fail<IoError>(entry, " is not a count from 0 to ", RunConfig::kMaxCount);
      }
    };
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const std::string row_field = detail::concat(field, "[", k, "]");
      if (rows[k].type() != Json::Type::Array) detail::fail<IoError>(row_field, " is not a list");
      const auto& row = rows[k].elements();
      if (row.size() != rows.size()) {
        detail::fail<IoError>(row_field, " has ", row.size(), " entries (expected ", rows.size(), ")");
      }
      for (std::size_t p = 0; p < row.size(); ++p) {
        r.confusion.add_count(static_cast<Index>(k), static_cast<Index>(p),
                              count_at(row[p], detail::concat(row_field, "[", p, "]")));
      }
    }
    if (j.contains("unpredicted")) {
      const std::string list_field = field_name(where, "unpredicted");
      if (j.at("unpredicted").type() != Json::Type::Array) detail::fail<IoError>(list_field, " is not a list");
      const auto& counts = j.at("unpredicted").elements();
      if (counts.size() != rows.size()) {
        detail::fail<IoError>(list_field, " has ", counts.size(), " entries (expected one per class: ", rows.size(), ")");
      }
      for (std::size_t k = 0; k < counts.size(); ++k) {
        r.confusion.add_unpredicted(static_cast<Index>(k), count_at(counts[k], detail::concat(list_field, "[", k, "]")));
      }
    }
    if (r.confusion.total() > r.samples) {  // fewer: older files did not count NaN logits' samples
      detail::fail<IoError>(field, " counts ", r.confusion.total(), " samples, more than ", field_name(where, "samples"),
                            " (", r.samples, ")");
    }
    // The accuracy is the matrix's hits over the samples: a file whose two disagree was edited, and
    // one of them would be reported wrong.
    Index hits = 0;
    for (Index k = 0; k < r.confusion.classes(); ++k) hits += r.confusion.count(k, k);
    if (r.confusion.classes() > 0 && std::abs(r.accuracy * static_cast<double>(r.samples) - static_cast<double>(hits)) > 0.5) {
      detail::fail<IoError>(field_name(where, "accuracy"), " is ", r.accuracy, ", but ", field, " has ", hits, " of the ",
                            r.samples, " samples right");
    }
  }
  if (classes < 0 && j.contains("confusion")) classes = r.confusion.classes();  // without data.class_names
  if (j.contains("per_class_accuracy")) {
    const std::string field = field_name(where, "per_class_accuracy");
    const Json& list = j.at("per_class_accuracy");
    if (list.type() != Json::Type::Array) detail::fail<IoError>(field, " is not a list");
    const auto& per_class = list.elements();
    if (classes >= 0 && per_class.size() != static_cast<std::size_t>(classes)) {
      detail::fail<IoError>(field, " has ", per_class.size(), " entries (expected one per class: ", classes, ")");
    }
    for (std::size_t k = 0; k < per_class.size(); ++k) {
      const std::string entry = detail::concat(field, "[", k, "]");
      double v = 0.0;
      try {
        v = per_class[k].number();
      } catch (const Error&) {
        detail::fail<IoError>(entry, " is not a number");
      }
      // (null: a class no sample of the split has, whose accuracy is no number)
      const bool empty_class = k >= static_cast<std::size_t>(r.confusion.classes()) ||
                               r.confusion.class_samples(static_cast<Index>(k)) == 0;
      if (std::isnan(v) && empty_class) continue;
      check_fraction(v, entry);
      if (!empty_class && std::abs(v - r.confusion.class_accuracy(static_cast<Index>(k))) > 1e-9) {
        detail::fail<IoError>(entry, " is ", v, ", but the confusion matrix gives ",
                              r.confusion.class_accuracy(static_cast<Index>(k)));
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

// An epoch of the history, every number checked; a null validation loss is accepted only when
// `diverged` (the epoch whose validation loss was not finite ended the run).
inline EpochLog epoch_from_json(const Json& j, const std::string& where = "", bool diverged = false) {
  EpochLog e;
  e.epoch = static_cast<int>(integer_at(j, "epoch", where, 1, kMaxEpochs));
  e.train_loss = number_at(j, "train_loss", where);
  check_loss(e.train_loss, field_name(where, "train_loss"), false);
  e.train_acc = number_at(j, "train_acc", where);
  check_fraction(e.train_acc, field_name(where, "train_acc"));
  e.val_loss = number_at(j, "val_loss", where);
  check_loss(e.val_loss, field_name(where, "val_loss"), diverged);
  e.val_acc = number_at(j, "val_acc", where);
  check_fraction(e.val_acc, field_name(where, "val_acc"));
  e.lr = number_at(j, "lr", where);
  check_non_negative(e.lr, field_name(where, "lr"));
  e.seconds = number_at(j, "seconds", where);
  check_seconds(e.seconds, field_name(where, "seconds"));
  e.penalty = number_at(j, "penalty", where);
  check_non_negative(e.penalty, field_name(where, "penalty"));
  e.steps = static_cast<std::int64_t>(integer_at(j, "steps", where, 0, kMaxSteps));
  return e;
}

}  // namespace internal

// What a run folder holds for a configuration: nothing finished, its finished run, or the finished
// run of another configuration or data split (which a new run there would replace).
struct FolderRun {
  enum class Kind { None, Finished, OtherRun };
  Kind kind = Kind::None;
  std::optional<RunResult> result;  // Finished
  std::string difference;           // OtherRun: what differs, in words
  // None with a summary.json that cannot be used (unreadable, a value out of range, its best model
  // missing or corrupt): what is wrong, naming the file and the field; empty when there is none.
  std::string problem;
};

namespace internal {

// A summary read back, every field checked; the best model it points to must load and be the
// model the summary describes. Throws IoError naming the file (and the field) at the first problem.
inline RunResult read_summary(const std::filesystem::path& out, const Json& s, const RunConfig& config) {
  RunResult r;
  r.config = config;
  const std::string file = (out / "summary.json").string();
  try {
    const Json& t = member(s, "training", "");
    try {
      r.history.stop_reason = member(t, "stop_reason", "training").string();
      r.history.stopped_early = member(t, "stopped_early", "training").boolean();
      r.history.diverged = member(t, "diverged", "training").boolean();
    } catch (const IoError&) {
      throw;
    } catch (const Error& e) {
      detail::fail<IoError>("training: ", e.what());
    }
    const bool diverged = r.history.diverged;
    const Json& epochs = member(s, "epochs", "");
    if (epochs.type() != Json::Type::Array) detail::fail<IoError>("epochs is not a list");
    if (epochs.elements().size() > static_cast<std::size_t>(config.epochs)) {
      detail::fail<IoError>("epochs has ", epochs.elements().size(), " entries, more than config.epochs (", config.epochs, ")");
    }
    double epoch_seconds = 0.0;
    for (std::size_t i = 0; i < epochs.elements().size(); ++i) {
      const bool last = i + 1 == epochs.elements().size();
      const std::string where = detail::concat("epochs[", i, "]");
      r.history.epochs.push_back(epoch_from_json(epochs.elements()[i], where, diverged && last));
      if (r.history.epochs.back().epoch != static_cast<int>(i) + 1) {
        detail::fail<IoError>(where, ".epoch is ", r.history.epochs.back().epoch, " (expected ", i + 1, ")");
      }
      epoch_seconds += r.history.epochs.back().seconds;
    }
    r.best_epoch = static_cast<int>(integer_at(t, "best_epoch", "training", 0, kMaxEpochs));
    r.train_seconds = number_at(t, "seconds", "training");
    check_seconds(r.train_seconds, "training.seconds");
    if (std::abs(r.train_seconds - epoch_seconds) > 1e-6 * std::max(1.0, epoch_seconds)) {  // (their sum, as written)
      detail::fail<IoError>("training.seconds is ", r.train_seconds, ", but its epochs took ", epoch_seconds, " s");
    }
    r.parameters = static_cast<Index>(integer_at(member(s, "model", ""), "parameters", "model", 0, 1LL << 50));
    if (r.best_epoch > static_cast<int>(r.history.epochs.size())) {
      detail::fail<IoError>("training.best_epoch is ", r.best_epoch, " (expected 0 to the ", r.history.epochs.size(),
                            " epochs run)");
    }
    long long classes = -1;  // unknown: then that of the confusion matrices
    if (member(s, "data", "").contains("class_names")) {
      const Json& names = s.at("data").at("class_names");
      if (names.type() != Json::Type::Array || names.elements().empty()) {
        detail::fail<IoError>("data.class_names is not a list of class names");
      }
      classes = static_cast<long long>(names.elements().size());
    }
    const Json& test = member(s, "test", "");
    r.test_best = eval_from_json(member(test, "best", "test"), "test.best", diverged, classes);
    r.test_last = eval_from_json(member(test, "last", "test"), "test.last", diverged, classes);
    if (s.at("data").contains("test_samples")) {
      const auto n = static_cast<Index>(integer_at(s.at("data"), "test_samples", "data", 1, RunConfig::kMaxCount));
      for (const auto& [name, eval] : {std::pair{"test.best.samples", &r.test_best}, std::pair{"test.last.samples", &r.test_last}}) {
        if (eval->samples != n) detail::fail<IoError>(name, " is ", eval->samples, ", but data.test_samples is ", n);
      }
    }
  } catch (const Error& e) {
    detail::fail<IoError>(file, ": ", e.what());
  }
  if (r.best_epoch > 0) {
    const std::string best_file = (out / "best.mlp").string();
    std::optional<LoadedModel<float>> best;
    try {
      best.emplace(load_model<float>(out / "best.mlp"));
    } catch (const Error& e) {
      detail::fail<IoError>(best_file, " cannot be loaded (", e.what(), ")");
    }
    detail::require<IoError>(best->model.parameter_count() == r.parameters, best_file, " has ",
                             best->model.parameter_count(), " parameters, ", file, " ", r.parameters);
    detail::require<IoError>(best->metadata.count("epoch") && best->metadata.at("epoch") == std::to_string(r.best_epoch),
                             best_file, " is not the best epoch ", r.best_epoch, " of ", file);
  }
  r.cached = true;
  r.summary = s;
  return r;
}

// summary.json parsed; IoError naming the file when it cannot be read or is not JSON (empty, cut short).
inline Json read_summary_json(const std::filesystem::path& file) {
  const std::string text = read_text_file(file);  // its errors name the file
  try {
    return Json::parse(text);
  } catch (const Error& e) {
    detail::fail<IoError>(file.string(), " is not valid JSON (", e.what(), ")");
  }
}

}  // namespace internal

// What identifies the data a run saw: the fingerprints of its split (Split::fingerprint_hex) and of
// its images and labels (PreparedData::data_fingerprint_hex). `data` is empty for runs written
// before 2026-12-06, which did not record it; such a run is taken to have seen the same data.
struct DataIdentity {
  std::string split;
  std::string data;

  // Explicit: a split's fingerprint alone passed where the data is compared would skip the images.
  explicit DataIdentity(std::string split_fingerprint, std::string data_fingerprint = {})
      : split(std::move(split_fingerprint)), data(std::move(data_fingerprint)) {}
  explicit DataIdentity(const PreparedData& d) : DataIdentity(d.split.fingerprint_hex(), d.data_fingerprint_hex()) {}
};

namespace internal {

// The configuration and data a summary records; IoError naming the file.
inline std::pair<RunConfig, DataIdentity> summary_identity(const std::filesystem::path& file, const Json& s) {
  try {
    const Json& data = member(s, "data", "");
    return {RunConfig::from_json(member(s, "config", "")),
            DataIdentity(member(data, "split_fingerprint", "data").string(),
                         data.contains("data_fingerprint") ? member(data, "data_fingerprint", "data").string() : "")};
  } catch (const Error& e) {
    detail::fail<IoError>(file.string(), ": ", e.what());
  }
}

}  // namespace internal

// Why the data a stored run saw is not this data, for messages ("data split 1a2b3c4d there, 5e6f7a8b
// here"); empty when it is the same (or the stored run did not record its data's fingerprint).
inline std::string data_mismatch(const DataIdentity& here, const DataIdentity& there) {
  if (there.split != here.split) return detail::concat("data split ", there.split, " there, ", here.split, " here");
  if (!there.data.empty() && !here.data.empty() && there.data != here.data) {
    return detail::concat("data (images and labels) ", there.data, " there, ", here.data, " here");
  }
  return "";
}

// Why a stored run (its configuration and data) is another run than this configuration on this
// data, for messages ("data split 1a2b3c4d there, 5e6f7a8b here", "precision bf16 here, fp32
// there"); empty when it is the same run (the thread count may differ, RunConfig::identity).
inline std::string run_mismatch(const RunConfig& config, const DataIdentity& data, const RunConfig& stored,
                                const DataIdentity& stored_data) {
  if (std::string why = data_mismatch(data, stored_data); !why.empty()) return why;
  if (stored == config) return "";
  const std::string difference = config.difference(stored);
  return difference.empty() ? "another configuration" : difference;
}

// Looks at the run folder `out` for this configuration and data split. A summary that cannot be
// read, or whose best model is missing or corrupt, is not a finished run (it is trained again);
// FolderRun::problem then says what is wrong.
inline FolderRun inspect_run_folder(const std::filesystem::path& out, const RunConfig& config,
                                    const DataIdentity& data) {
  FolderRun f;
  std::error_code ec;
  const auto file = out / "summary.json";
  if (!std::filesystem::is_regular_file(file, ec)) return f;
  try {
    const Json s = internal::read_summary_json(file);
    const auto [stored, stored_data] = internal::summary_identity(file, s);
    f.difference = run_mismatch(config, data, stored, stored_data);
    if (!f.difference.empty()) {
      f.kind = FolderRun::Kind::OtherRun;
      return f;
    }
    f.result = internal::read_summary(out, s, config);
    f.kind = FolderRun::Kind::Finished;
  } catch (const Error& e) {
    f = {};  // unreadable, incomplete, out of range or from another version: not a finished run
    f.problem = e.what();
  }
  return f;
}

// The finished run in `out`, if its summary.json holds this configuration and data split and its
// best model loads.
inline std::optional<RunResult> load_finished_run(const std::filesystem::path& out, const RunConfig& config,
                                                  const DataIdentity& data) {
  return inspect_run_folder(out, config, data).result;
}

// The finished run in `out` whatever its configuration, with the fingerprints of its data:
// for comparing runs of different configurations (the study's --compare-to), where
// inspect_run_folder would only say that the run is another one. None when `out` holds no
// finished run, or one whose summary or best model cannot be used; then `problem` (if given) says
// what is wrong with it (empty: there is no summary.json).
struct StoredRun {
  RunResult result;  // result.config: the configuration it ran with
  DataIdentity data;
};

inline std::optional<StoredRun> read_finished_run(const std::filesystem::path& out, std::string* problem = nullptr) {
  if (problem != nullptr) problem->clear();
  std::error_code ec;
  const auto file = out / "summary.json";
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  try {
    const Json s = internal::read_summary_json(file);
    const auto [stored, data] = internal::summary_identity(file, s);
    return StoredRun{internal::read_summary(out, s, stored), data};
  } catch (const Error& e) {
    if (problem != nullptr) *problem = e.what();
    return std::nullopt;
  }
}

}  // namespace mlp::app
