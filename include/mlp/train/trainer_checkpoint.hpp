// Training checkpoints: everything the Trainer needs to continue exactly, and the checks a
// checkpoint read from disk must pass before any of it is used. A checkpoint holds the model's
// layer list and state, the optimizer's name, hyperparameters, step count and state, the schedule,
// the position (epoch, batch within it, batches per epoch, step), the dropout generators, the
// epoch's running sums, the history, each stateful callback's state and the caller's "extra" text.
// Every number is range-checked and checked against the others: epochs done = history length,
// step = epochs x batches + position, the best epoch of a callback within the history, and so on.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/io/container.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/optim/optimizer.hpp"
#include "mlp/optim/schedulers.hpp"
#include "mlp/train/callback.hpp"
#include "mlp/train/metric.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mlp::detail {

// Running sums of the epoch in progress.
struct EpochSums {
  double loss = 0.0, objective = 0.0, penalty = 0.0, seconds = 0.0;
  Index correct = 0, samples = 0, steps = 0;
};

struct TrainerState {
  int epoch = 0;
  Index batch_in_epoch = 0;
  Index batches_per_epoch = 0;
  std::int64_t step = 0;
  double lr_scale = 1.0;
  bool finished = false;
  EpochSums sums;
};

// Metric names end up as CSV columns, TensorBoard tags and checkpoint keys.
inline void check_metric_name(const std::string& name) {
  require(is_metric_name(name), "metric name '", name, "' has to be letters, digits and '_'");
}

// Checks, when training begins, that every monitored metric is produced by the run, and by a
// callback added before the monitoring one when a callback logs it. Returns what callbacks log.
template <class S>
std::vector<std::string> check_metrics(const std::vector<Callback<S>*>& callbacks, const std::vector<Metric<S>*>& metrics,
                                       bool has_validation, bool label_smoothing) {
  std::vector<std::string> produced = {metric::train_loss, metric::train_acc, metric::lr, metric::penalty, metric::seconds};
  if (label_smoothing) produced.push_back(metric::train_smoothed_loss);
  if (has_validation) {
    produced.push_back(metric::val_loss);
    produced.push_back(metric::val_acc);
  }
  for (const auto* m : metrics) {
    require(has_validation, "metric '", m->name(), "' is computed on validation data, but fit() got no validation loader");
    // (a metric named "loss" was logged as a second val_loss column; two of one name lost the first)
    const std::string logged_as = "val_" + m->name();
    require(std::find(produced.begin(), produced.end(), logged_as) == produced.end() && !is_standard_metric(logged_as),
            "metric '", m->name(), "' would be logged as '", logged_as, "', which the run already has; give it another name");
    produced.push_back(logged_as);
  }
  auto known = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  std::vector<std::string> logged;
  std::vector<std::size_t> logged_by;
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    for (const auto& name : callbacks[i]->logged_metrics()) {
      check_metric_name(name);
      require(name != "epoch", "callback '", callbacks[i]->name(), "' logs metric 'epoch', which is the log's epoch column");
      require(!known(produced, name) && !known(logged, name) && !is_standard_metric(name), "callback '",
              callbacks[i]->name(), "' logs metric '", name, "', which the run already has");
      logged.push_back(name);
      logged_by.push_back(i);
    }
  }
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    if (!callbacks[i]->writes_every_metric()) continue;
    for (std::size_t k = 0; k < logged.size(); ++k) {
      require(logged_by[k] <= i, "callback '", callbacks[i]->name(), "' writes every metric of an epoch, but callback '",
              callbacks[logged_by[k]]->name(), "' logs '", logged[k], "' after it (it is added later), so the ",
              "metric would be missing from what it writes: add '", callbacks[logged_by[k]]->name(), "' first");
    }
  }
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    for (const auto& name : callbacks[i]->monitored_metrics()) {
      const auto at = std::find(logged.begin(), logged.end(), name);
      if (at != logged.end()) {
        const std::size_t by = logged_by[static_cast<std::size_t>(at - logged.begin())];
        require(by < i, "callback '", callbacks[i]->name(), "' monitors '", name, "', which callback '",
                callbacks[by]->name(), "' logs, but that one is added after it: add it first");
        continue;
      }
      if (known(produced, name)) continue;
      std::string list;
      for (const auto& p : produced) list += (list.empty() ? "" : ", ") + p;
      for (const auto& p : logged) list += ", " + p;
      fail("callback '", callbacks[i]->name(), "' monitors '", name, "', which this run does not produce",
           name.rfind("val_", 0) == 0 && !has_validation ? " (fit() got no validation loader)" : "",
           "; it produces ", list);
    }
  }
  return logged;
}

// No two writers of one file: the callbacks' written_files() and the Trainer's own checkpoint. Paths
// are compared after resolving ".", ".." and symbolic links of the folders that exist; a symbolic
// link as the file itself is not followed, because an atomic write renames over the link.
template <class S>
void check_written_files(const std::vector<Callback<S>*>& callbacks, const std::filesystem::path& checkpoint) {
  const auto resolved = [](const std::filesystem::path& p) {
    std::error_code error;
    std::filesystem::path whole = std::filesystem::absolute(p, error).lexically_normal();
    if (error || !whole.has_filename()) return whole;
    const std::filesystem::path folder = std::filesystem::weakly_canonical(whole.parent_path(), error);
    return error ? whole : folder / whole.filename();
  };
  std::vector<std::pair<std::filesystem::path, std::string>> writers;  // (resolved path, who writes it)
  const auto add = [&](const std::filesystem::path& path, const std::string& who) {
    const std::filesystem::path r = resolved(path);
    for (const auto& [other, other_who] : writers) {
      require(other != r, who, " writes '", path.string(), "', which ", other_who, " writes too: give each its own file");
    }
    writers.emplace_back(r, who);
  };
  if (!checkpoint.empty()) add(checkpoint, "the Trainer's checkpoint option");
  for (const auto* c : callbacks) {
    for (const auto& path : c->written_files()) add(path, concat("callback '", c->name(), "'"));
  }
}

inline std::int64_t read_int(const ContainerReader& in, const std::string& section, const std::string& key,
                             std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  if (!parse_int64(in.value(section, key), v) || v < min || v > max) {
    in.fail("has a bad ", section, " entry ", key, " '", in.value(section, key), "' (expected ", min, " to ", max, ")");
  }
  return v;
}
inline double read_real(const ContainerReader& in, const std::string& section, const std::string& key, double min,
                        double max) {
  double v = 0.0;
  if (!parse_double(in.value(section, key), v) || !(v >= min && v <= max)) {
    in.fail("has a bad ", section, " entry ", key, " '", in.value(section, key), "' (expected ", min, " to ", max, ")");
  }
  return v;
}

inline std::string schedule_text(const Schedule* schedule) { return schedule ? schedule->describe() : "none"; }
// Whether a checkpoint's schedule text names this schedule. Versions before 2026-12-06 wrote a
// duration of 1 as "1 steps" / "1 epochs"; their checkpoints still resume.
inline bool same_schedule_text(const std::string& stored, const std::string& now) {
  if (stored == now) return true;
  std::string older = now;
  for (const char* unit : {" step", " epoch"}) {
    const std::string one = std::string(" 1") + unit;
    for (std::size_t at = older.find(one); at != std::string::npos; at = older.find(one, at + one.size())) {
      const std::size_t end = at + one.size();
      const bool plural = end < older.size() && older[end] == 's';
      if (!plural) older.insert(end, "s");
    }
  }
  return stored == older;
}

// The names of the tensors an optimizer trains: with frozen layers, some of the model's. (An
// optimizer without state, such as SGD without momentum, resumed training the frozen ones too.)
template <class S>
std::vector<std::string> trained_tensors(const Optimizer<S>& optimizer) {
  std::vector<std::string> names;
  for (const auto& p : optimizer.parameters()) names.push_back(p.name);
  return names;
}

template <class S>
std::vector<std::string> stateful_callbacks(const std::vector<Callback<S>*>& callbacks) {
  std::vector<std::string> names;
  for (const auto* c : callbacks) {
    if (c->has_state()) names.push_back(c->name());
  }
  return names;
}

inline TextSection history_text(const History& history) {
  TextSection t{{"count", std::to_string(history.epochs.size())},
                {"stop_reason", history.stop_reason},
                {"stopped_early", history.stopped_early ? "1" : "0"}};
  for (std::size_t i = 0; i < history.epochs.size(); ++i) {
    const EpochLog& e = history.epochs[i];
    t[concat("epoch.", i)] = join(std::vector<double>{static_cast<double>(e.epoch), e.train_loss, e.train_acc,
                                                      e.penalty, e.val_loss, e.val_acc, e.lr, e.seconds,
                                                      static_cast<double>(e.steps)});
    for (const auto& [name, value] : e.custom) t[concat("epoch.", i, ".", name)] = exact(value);
  }
  return t;
}

// The history of `epochs` epochs of `batches` steps each; every entry checked.
inline History read_history(const ContainerReader& in, std::int64_t epochs, std::int64_t batches) {
  History h;
  const std::int64_t count = read_int(in, "history", "count", 0, kMaxEpochs);
  if (count != epochs) in.fail("has a history of ", count, " epochs, but ", epochs, " epochs done");
  for (std::int64_t i = 0; i < count; ++i) {
    const auto fields = split(in.value("history", concat("epoch.", i)), ',');
    std::vector<double> v(fields.size());
    for (std::size_t k = 0; k < fields.size(); ++k) {
      if (!parse_double(fields[k], v[k])) in.fail("has a bad history entry ", i);
    }
    if (v.size() != 9) in.fail("has a history entry with ", v.size(), " fields instead of 9");
    auto non_negative = [](double x) { return std::isfinite(x) && x >= 0.0; };
    auto fraction = [](double x) { return x >= 0.0 && x <= 1.0; };
    const bool val_ok = std::isnan(v[4]) ? std::isnan(v[5]) : non_negative(v[4]) && fraction(v[5]);
    const bool ok = v[0] == static_cast<double>(i + 1) && non_negative(v[1]) && fraction(v[2]) && non_negative(v[3]) &&
                    val_ok && non_negative(v[6]) && non_negative(v[7]) &&
                    v[8] == static_cast<double>((i + 1) * batches);
    if (!ok) in.fail("has an impossible history entry for epoch ", i + 1, " (", in.value("history", concat("epoch.", i)), ")");
    EpochLog e{static_cast<int>(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7], static_cast<std::int64_t>(v[8]), {}};
    const std::string prefix = concat("epoch.", i, ".");
    const TextSection& entries = in.text("history");
    for (auto it = entries.lower_bound(prefix); it != entries.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      double x = 0.0;
      if (!parse_double(it->second, x)) in.fail("has a bad history entry ", it->first);
      e.custom[it->first.substr(prefix.size())] = x;
    }
    h.epochs.push_back(std::move(e));
  }
  h.stop_reason = in.value("history", "stop_reason");
  h.stopped_early = in.value("history", "stopped_early") == "1";
  return h;
}

// Where a stateful callback's sections go in a checkpoint: every one of its names starts with this.
template <class S>
std::string state_prefix(const Callback<S>& c) {
  return "callback." + c.name() + ".";
}

template <class S>
void write_training_checkpoint(const std::filesystem::path& path, const Sequential<S>& model, const Optimizer<S>& optimizer,
                               const Schedule* schedule, const TrainerState& s, const History& history,
                               const std::vector<Callback<S>*>& callbacks, const TextSection& extra) {
  ContainerWriter out;
  write_architecture(out, model);
  TextSection t{{"epoch", std::to_string(s.epoch)},
                {"batch_in_epoch", std::to_string(s.batch_in_epoch)},
                {"batches_per_epoch", std::to_string(s.batches_per_epoch)},
                {"step", std::to_string(s.step)},
                {"lr_scale", exact(s.lr_scale)},
                {"optimizer", std::string(optimizer.name())},
                {"optimizer_steps", std::to_string(optimizer.steps())},
                {"schedule", schedule_text(schedule)},
                {"random_states", join(model.random_states())},
                {"acc_loss", exact(s.sums.loss)},
                {"acc_objective", exact(s.sums.objective)},
                {"acc_penalty", exact(s.sums.penalty)},
                {"acc_seconds", exact(s.sums.seconds)},
                {"acc_correct", std::to_string(s.sums.correct)},
                {"acc_samples", std::to_string(s.sums.samples)},
                {"acc_steps", std::to_string(s.sums.steps)},
                {"finished", s.finished ? "1" : "0"},
                {"stateful_callbacks", join(stateful_callbacks(callbacks))},
                {"trained_tensors", join(trained_tensors(optimizer))}};
  for (const auto& [key, value] : optimizer.hyperparameters()) t["optimizer." + key] = exact(value);
  out.add_text("trainer", t);
  out.add_tensors("state", model.state_dict());
  out.add_tensors("optimizer", optimizer.state_dict());
  out.add_text("history", history_text(history));
  for (const auto* c : callbacks) {
    if (!c->has_state()) continue;
    const std::string prefix = state_prefix(*c);
    const std::size_t before = out.section_names().size();
    c->save_state(out, prefix);  // (a section of another's name made every checkpoint of the run unreadable)
    for (std::size_t i = before; i < out.section_names().size(); ++i) {
      const std::string& name = out.section_names()[i];
      require<RuntimeError>(name.compare(0, prefix.size(), prefix) == 0, "callback '", c->name(),
                            "' wrote a checkpoint section '", name, "': a callback's sections start with the prefix '",
                            prefix, "' save_state is given");
    }
  }
  out.add_text("extra", extra);
  out.write(path, kCheckpointMagic, kModelFormatVersion);
}

// The position and sums of a checkpoint, each checked on its own and against the others.
inline TrainerState read_trainer_state(const ContainerReader& in) {
  TrainerState s;
  s.epoch = static_cast<int>(read_int(in, "trainer", "epoch", 0, kMaxEpochs));
  s.batches_per_epoch = read_int(in, "trainer", "batches_per_epoch", 1, std::int64_t{1} << 40);
  s.batch_in_epoch = read_int(in, "trainer", "batch_in_epoch", 0, s.batches_per_epoch - 1);
  s.step = read_int(in, "trainer", "step", 0, kMaxSteps);
  if (s.step != s.epoch * s.batches_per_epoch + s.batch_in_epoch) {
    in.fail("has an impossible position: step ", s.step, " is not ", s.epoch, " epochs x ", s.batches_per_epoch,
            " batches + ", s.batch_in_epoch);
  }
  if (read_int(in, "trainer", "optimizer_steps", 0, kMaxSteps) != s.step) {
    in.fail("has an optimizer step count that is not its step ", s.step);
  }
  s.lr_scale = read_real(in, "trainer", "lr_scale", 0.0, 1.0);  // (the range a callback may set: Trainer::take_lr_scale)
  s.finished = read_int(in, "trainer", "finished", 0, 1) == 1;
  EpochSums& a = s.sums;
  a.steps = read_int(in, "trainer", "acc_steps", s.batch_in_epoch, s.batch_in_epoch);
  a.samples = read_int(in, "trainer", "acc_samples", a.steps, a.steps << 31);
  a.correct = read_int(in, "trainer", "acc_correct", 0, a.samples);
  a.loss = read_real(in, "trainer", "acc_loss", 0.0, 1e300);
  a.objective = read_real(in, "trainer", "acc_objective", 0.0, 1e300);
  a.penalty = read_real(in, "trainer", "acc_penalty", 0.0, 1e300);
  a.seconds = read_real(in, "trainer", "acc_seconds", 0.0, 1e12);
  return s;
}

// What resuming changes (the model's tensors and random states, the optimizer's state, the callbacks'
// states, these through their own save_state and load_state in memory), to put back after a failure.
template <class S>
class ResumeBackup {
 public:
  ResumeBackup(const Sequential<S>& model, const Optimizer<S>& optimizer, const std::vector<Callback<S>*>& callbacks)
      : model_(model.state_dict()), random_(model.random_states()), optimizer_(optimizer.state_dict()),
        steps_(optimizer.steps()) {
    ContainerWriter out;
    for (const auto* c : callbacks) {
      if (c->has_state()) c->save_state(out, state_prefix(*c));
    }
    callbacks_ = out.finish(kCheckpointMagic, kModelFormatVersion);
  }

  // `history`: the Trainer's, as the callbacks' states were saved with it. `failure`: why the resume
  // failed; a callback that cannot take its own state back (one that trained under another Trainer,
  // whose history does not show it) is named in an error that says both.
  void restore(Sequential<S>& model, Optimizer<S>& optimizer, const std::vector<Callback<S>*>& callbacks,
               const History& history, const std::string& failure) const {
    model.load_state_dict(model_);
    model.set_random_states(random_);
    optimizer.load_state_dict(optimizer_, steps_);
    const ContainerReader in(callbacks_, "(the callbacks' states before resume)", kCheckpointMagic, kModelFormatVersion,
                             "backup");
    std::string not_restored;
    for (auto* c : callbacks) {
      try {
        if (c->has_state()) c->load_state(in, state_prefix(*c), history);
      } catch (const std::exception& e) {
        not_restored += concat(not_restored.empty() ? "" : "; ", "'", c->name(), "' (", e.what(), ")");
      }
    }
    if (!not_restored.empty()) {
      fail<RuntimeError>(failure, "; and the state of callback ", not_restored, " could not be put back as it was ",
                         "before the resume: make those callbacks again before training");
    }
  }

 private:
  StateDict<S> model_;
  std::vector<std::uint64_t> random_;
  StateDict<S> optimizer_;
  std::int64_t steps_;
  std::string callbacks_;
};

// Reads a checkpoint for `model`, `optimizer`, `schedule` and `callbacks` into them; returns "extra".
// Nothing changes unless all of it is read.
template <class S>
TextSection read_training_checkpoint(const std::filesystem::path& path, Sequential<S>& model, Optimizer<S>& optimizer,
                                     const Schedule* schedule, TrainerState& state, History& history,
                                     const std::vector<Callback<S>*>& callbacks) {
  const auto in = ContainerReader::open(path, kCheckpointMagic, kModelFormatVersion, "an mlp training checkpoint",
                                        mlp_file_kinds());
  if (in.version() < 2) in.fail("is a format-", in.version(), " checkpoint, which this version cannot resume; start the run again");
  const std::string difference = architecture_difference(read_architecture(in), architecture_of(model));
  if (!difference.empty()) in.fail("was written for another model: ", difference);
  if (in.value("trainer", "optimizer") != optimizer.name()) {
    in.fail("was written with optimizer ", in.value("trainer", "optimizer"), ", not ", optimizer.name());
  }
  for (const auto& [key, value] : optimizer.hyperparameters()) {
    if (in.value("trainer", "optimizer." + key) != exact(value)) {
      in.fail("was written with optimizer ", key, " ", in.value("trainer", "optimizer." + key), ", not ", exact(value));
    }
  }
  if (!same_schedule_text(in.value("trainer", "schedule"), schedule_text(schedule))) {
    in.fail("was written with schedule '", in.value("trainer", "schedule"), "', not '", schedule_text(schedule), "'");
  }
  const std::string trained = join(trained_tensors(optimizer));
  if (in.text("trainer").count("trained_tensors") != 0) {
    if (in.value("trainer", "trained_tensors") != trained) {
      in.fail("was written training the tensors [", in.value("trainer", "trained_tensors"), "], but this optimizer ",
              "holds [", trained, "]; build it from the same layers (parameters_of_layers) as the run's");
    }
  } else if (optimizer.parameters().size() != model.parameters().size()) {
    // (files before 2026-12-06: every optimizer held all of the model's tensors)
    in.fail("was written training all ", model.parameters().size(), " of the model's tensors, but this optimizer holds ",
            optimizer.parameters().size(), " of them");
  }
  if (in.value("trainer", "stateful_callbacks") != join(stateful_callbacks(callbacks))) {
    in.fail("holds the state of callbacks [", in.value("trainer", "stateful_callbacks"), "], but this trainer has [",
            join(stateful_callbacks(callbacks)), "]; add the same callbacks before resume()");
  }
  TrainerState s = read_trainer_state(in);
  History h = read_history(in, s.epoch, s.batches_per_epoch);
  if (s.finished && h.stop_reason.empty()) in.fail("is marked finished without a stop reason");
  // Only a stop (a callback's, early stopping's) ends a run for good, and it marks both.
  if (s.finished != h.stopped_early) {
    in.fail("is marked ", s.finished ? "finished" : "unfinished", ", but its history says the run ",
            h.stopped_early ? "stopped early" : "did not stop early");
  }
  std::vector<std::uint64_t> states;
  for (const auto& text : split(in.value("trainer", "random_states"), ',')) {
    std::uint64_t v = 0;
    if (!parse_uint64(text, v)) in.fail("has a bad random state '", text, "'");
    states.push_back(v);
  }
  // All of it or nothing: a resume that failed half way (a callback's state refused after the weights
  // were loaded) left the model and the optimizer resumed, and a fresh fit() went on from there.
  const ResumeBackup<S> backup(model, optimizer, callbacks);
  try {
    load_state_from(in, model, "state");
    try {
      optimizer.load_state_dict(in.tensors<S>("optimizer"), s.step);
      model.set_random_states(states);
    } catch (const InvalidArgument& e) {
      in.fail("does not fit this training setup: ", e.what());
    }
    for (auto* c : callbacks) {
      if (c->has_state()) c->load_state(in, state_prefix(*c), h);
    }
  } catch (const std::exception& e) {
    backup.restore(model, optimizer, callbacks, history, e.what());
    throw;
  }
  state = s;
  history = std::move(h);
  return in.text("extra");
}

}  // namespace mlp::detail
