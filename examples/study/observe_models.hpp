// Observations on the model and its regularization (architecture; L1, L2, dropout; the combined
// `best` run), computed from the runs over seeds. As everywhere in the report, a comparison between
// two experiments is worded by compare() from the interval of its paired difference.
#pragma once

#include "aggregate.hpp"
#include "experiments.hpp"
#include "wording.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace study {

using mlp::app::RunResult;

inline std::string model_line(const std::string& name, const SeedRuns& runs) {
  std::ostringstream s;
  s << "- " << name << ": " << runs.begin()->second.parameters << " parameters; lowest validation loss "
    << mean_sd(over_seeds(runs, metric::best_val_loss), kLoss, false) << " at epoch "
    << range_text(over_seeds(runs, metric::best_epoch)) << "; test accuracy "
    << mean_sd(over_seeds(runs, metric::test_acc), kAccuracy) << "; at the last epoch the validation loss minus "
    << "the training loss is " << mean_sd(over_seeds(runs, metric::gap), kLoss, false) << "; "
    << secs(over_seeds(runs, metric::seconds).mean) << " of training per seed.\n";
  return s.str();
}

inline std::string observe_architecture(const StudyResults& R) {
  std::ostringstream s;
  const std::pair<const char*, const char*> runs[] = {
      {"arch_small", "small [32]"}, {"baseline", "medium [256, 128]"}, {"arch_large", "large [1024, 1024, 1024]"}};
  for (const auto& [id, name] : runs) {
    if (const SeedRuns* r = runs_of(R, id)) s << model_line(name, *r);
  }
  const SeedRuns* m = runs_of(R, "baseline");
  if (m == nullptr) return s.str();
  s << "\n";
  const std::string medium = "the medium network's";
  if (const SeedRuns* sm = runs_of(R, "arch_small")) {
    s << "Paired with the medium network by seed, the small network's test accuracy is "
      << compare(paired(*sm, *m, metric::test_acc), kAccuracy, "higher", "lower", medium)
      << ", and its last-epoch gap between validation and training loss is "
      << compare(paired(*sm, *m, metric::gap), kLoss, "wider", "narrower", medium) << " (its final training loss is "
      << loss4(over_seeds(*sm, metric::last_train_loss).mean) << ", the medium network's "
      << loss4(over_seeds(*m, metric::last_train_loss).mean) << "). ";
  }
  if (const SeedRuns* l = runs_of(R, "arch_large")) {
    const auto time = paired(*l, *m, metric::seconds);
    s << "The large network's test accuracy is "
      << compare(paired(*l, *m, metric::test_acc), kAccuracy, "higher", "lower", medium) << "; its last-epoch gap is "
      << compare(paired(*l, *m, metric::gap), kLoss, "wider", "narrower", medium) << "; its training time is "
      << compare(time, kSeconds, "longer", "shorter", medium);
    if (effect_sign(time) != 0) {
      s << fmt(" (%.1fx on average)", over_seeds(*l, metric::seconds).mean / std::max(over_seeds(*m, metric::seconds).mean, 1e-9));
    }
    s << ".";
  }
  s << "\n";
  return s.str();
}

inline std::string observe_regularization(const StudyResults& R) {
  const SeedRuns* b = runs_of(R, "baseline");
  if (b == nullptr) return "";
  std::ostringstream s;
  std::vector<std::string> narrower;
  const std::pair<const char*, const char*> runs[] = {{"l1", "L1 (1e-5)"}, {"l2", "L2 (1e-4)"}, {"dropout", "Dropout (0.2)"}};
  const std::string base = "the baseline's";
  int ran = 0;
  for (const auto& [id, name] : runs) {
    const SeedRuns* r = runs_of(R, id);
    if (r == nullptr) continue;
    ++ran;
    const auto gap = paired(*r, *b, metric::gap);
    s << "- " << name << ": test accuracy " << mean_sd(over_seeds(*r, metric::test_acc), kAccuracy, false) << ", "
      << compare(paired(*r, *b, metric::test_acc), kAccuracy, "higher", "lower", base) << "; lowest validation loss "
      << mean_sd(over_seeds(*r, metric::best_val_loss), kLoss, false) << ", "
      << compare(paired(*r, *b, metric::best_val_loss), kLoss, "higher", "lower", base) << "; last-epoch gap "
      << mean_sd(over_seeds(*r, metric::gap), kLoss, false) << ", " << compare(gap, kLoss, "wider", "narrower", base)
      << ".\n";
    if (shows(gap, -1)) narrower.push_back(name);
  }
  if (ran == 0) {  // "none detectable" would suggest that they were looked at
    return "No regularizer experiment (`l1`, `l2`, `dropout`) has a finished cell, so none is compared with the baseline.\n";
  }
  s << "\nRegularizers that detectably narrow the last-epoch gap between validation and training loss (the "
    << "interval of the paired difference from the baseline lies below 0): ";
  for (std::size_t i = 0; i < narrower.size(); ++i) s << (i ? ", " : "") << narrower[i];
  s << (narrower.empty() ? "none detectable with " + seeds_text(b->size()) : std::string()) << ".";
  for (const auto& [id, name] : {std::pair<const char*, const char*>{"l1", "L1"}, {"l2", "L2"}}) {
    const SeedRuns* r = runs_of(R, id);
    if (r == nullptr || r->begin()->second.history.epochs.empty()) continue;
    const auto penalty = over_seeds(*r, [](const RunResult& x) { return x.history.epochs.back().penalty; });
    s << " The " << name << " penalty averaged " << fmt("%.4f", penalty.mean) << " over the last epoch's steps ("
      << means_over(r->size(), "mean") << "), next to a data loss of " << loss4(over_seeds(*r, metric::last_train_loss).mean)
      << " (logged apart, in `metrics.csv`).";
  }
  s << "\n";
  return s.str();
}

inline std::string describe_config(const mlp::app::RunConfig& c) {
  std::ostringstream s;
  if (!c.arch.empty()) {
    s << "architecture " << c.arch;
  } else {
    s << "hidden layers [";
    for (std::size_t i = 0; i < c.hidden.size(); ++i) s << (i ? ", " : "") << c.hidden[i];
    s << "]";
  }
  s << ", " << mlp::to_string(c.activation) << (c.batch_norm ? ", BatchNorm" : "");
  if (c.dropout > 0) s << ", dropout " << c.dropout;
  s << "; " << c.optimizer << " lr " << c.lr;
  if (c.momentum > 0) s << " momentum " << c.momentum;
  if (c.weight_decay > 0) s << " weight decay " << c.weight_decay;
  if (c.l1 > 0) s << ", L1 " << c.l1;
  if (c.l2 > 0) s << ", L2 " << c.l2;
  if (c.label_smoothing > 0) s << ", label smoothing " << c.label_smoothing;
  s << "; " << c.schedule << " schedule; " << count_noun(c.epochs, "epoch");
  if (c.patience > 0) s << ", early stopping with patience " << c.patience;
  s << "; batch " << c.batch_size;
  return s.str();
}

// One-change experiments whose lowest validation loss is lower than the baseline's (interval
// below 0): what the choice of `best` may build on, judged on validation only. `looked_at` counts
// the one-change experiments with finished cells, helpful or not.
inline std::vector<std::string> helpful_changes(const StudyResults& R, const std::vector<Experiment>& experiments,
                                                int* looked_at = nullptr) {
  std::vector<std::string> helped;
  const SeedRuns* b = runs_of(R, "baseline");
  if (looked_at != nullptr) *looked_at = 0;
  for (const auto& x : experiments) {
    const SeedRuns* r = runs_of(R, x.id);
    if (b == nullptr || r == nullptr || x.id == "baseline" || x.id == "best" || x.id == "cnn" || x.id == "mlp_matched") continue;
    if (looked_at != nullptr) ++*looked_at;
    if (shows(paired(*r, *b, metric::best_val_loss), -1)) {
      helped.push_back(x.label + " (" + loss4(over_seeds(*r, metric::best_val_loss).mean) + ", validation accuracy " +
                       pct(over_seeds(*r, metric::best_val_acc).mean) + ")");
    }
  }
  return helped;
}

// Which single changes lower the baseline's lowest validation loss; "none ran" when none has a finished cell.
inline std::string helpful_changes_text(const StudyResults& R, const std::vector<Experiment>& experiments, const SeedRuns& b) {
  int looked_at = 0;
  const auto helped = helpful_changes(R, experiments, &looked_at);
  std::ostringstream s;
  if (looked_at == 0) {
    s << "No single-change experiment has a finished cell, so none is compared with the baseline's lowest validation "
         "loss (" << loss4(over_seeds(b, metric::best_val_loss).mean) << ").\n\n";
    return s.str();
  }
  s << "Single changes that detectably lower the baseline's lowest validation loss ("
    << loss4(over_seeds(b, metric::best_val_loss).mean) << "; the paired 95% interval lies below 0): ";
  for (std::size_t i = 0; i < helped.size(); ++i) s << (i ? "; " : "") << helped[i];
  s << (helped.empty() ? "none detectable with " + seeds_text(b.size()) : std::string()) << ".\n\n";
  return s.str();
}

inline std::string observe_best(const StudyResults& R, const std::vector<Experiment>& experiments) {
  const SeedRuns* best = runs_of(R, "best");
  if (best == nullptr) return "";
  std::ostringstream s;
  s << "Configuration: " << describe_config(best->begin()->second.config) << ".\n\n";
  const SeedRuns* b = runs_of(R, "baseline");
  if (b != nullptr) {
    s << helpful_changes_text(R, experiments, *b);
    const auto val_loss = paired(*best, *b, metric::best_val_loss), val_acc = paired(*best, *b, metric::best_val_acc);
    s << "The best run's lowest validation loss is " << mean_sd(over_seeds(*best, metric::best_val_loss), kLoss, false)
      << " at epoch " << range_text(over_seeds(*best, metric::best_epoch)) << "; its validation accuracy there ("
      << mean_sd(over_seeds(*best, metric::best_val_acc), kAccuracy, false) << ") is "
      << compare(val_acc, kAccuracy, "higher", "lower", "the baseline's");
    if (best->begin()->second.config.label_smoothing > 0 && shows(val_loss, 1) && shows(val_acc, 1)) {
      s << "; its validation loss is higher than the baseline's although its accuracy is higher, because label "
           "smoothing trains less confident predictions and the reported loss is the plain cross-entropy";
    }
    s << ". On the test set its best checkpoint scores " << mean_sd(over_seeds(*best, metric::test_acc), kAccuracy)
      << " (loss " << loss4(over_seeds(*best, metric::test_loss).mean) << "), "
      << compare(paired(*best, *b, metric::test_acc), kAccuracy, "higher", "lower", "the baseline's") << ". ";
  } else {
    s << "The baseline has no finished cell, so the best run is not compared with it. Its lowest validation loss is "
      << mean_sd(over_seeds(*best, metric::best_val_loss), kLoss, false) << " at epoch "
      << range_text(over_seeds(*best, metric::best_epoch)) << "; on the test set its best checkpoint scores "
      << mean_sd(over_seeds(*best, metric::test_acc), kAccuracy) << " (loss "
      << loss4(over_seeds(*best, metric::test_loss).mean) << "). ";
  }
  const int stopped = count_runs(*best, [](const RunResult& r) { return r.history.stopped_early; });
  s << "It ran " << epochs_text(over_seeds(*best, metric::epochs_run)) << " (stopped early in " << of_seeds(stopped, best->size()) << "), with "
    << secs(over_seeds(*best, metric::seconds).mean) << " of training per seed.\n";
  return s.str();
}

}  // namespace study
