// Observations on the training procedure (early stopping, learning-rate schedule, BatchNorm,
// optimizer), computed from the runs over seeds. Single runs' facts are given over seeds (ranges,
// "in 4 of 5 seeds"); every comparison between two experiments goes through compare().
#pragma once

#include "aggregate.hpp"
#include "wording.hpp"

#include <cmath>
#include <sstream>
#include <string>

namespace study {

using mlp::app::RunResult;

inline std::string observe_early_stopping(const StudyResults& R) {
  const SeedRuns* b = runs_of(R, "baseline");
  const SeedRuns* e = runs_of(R, "early_stopping");
  if (b == nullptr || e == nullptr) return "";
  std::ostringstream s;
  const RunResult& any = e->begin()->second;
  const int stopped = count_runs(*e, [](const RunResult& r) { return r.history.stopped_early; });
  if (stopped > 0) {
    s << "Early stopping ended training before epoch " << any.config.epochs << " in " << of_seeds(stopped, e->size())
      << ", each time after " << count_noun(any.config.patience, "epoch") << " without a lower validation loss (epochs run: " << range_text(over_seeds(*e, metric::epochs_run))
      << "). ";
  } else {
    s << "Early stopping did not trigger with " << (e->size() == 1 ? "its one seed" : "any of the " + seeds_text(e->size()))
      << ": the validation loss kept improving within its patience. ";
  }
  s << "The best epoch (lowest validation loss) was " << range_text(over_seeds(*e, metric::best_epoch))
    << " with early stopping and " << range_text(over_seeds(*b, metric::best_epoch)) << " without. "
    << "With early stopping, the restored best checkpoint's test accuracy (" << mean_sd(over_seeds(*e, metric::test_acc), kAccuracy, false)
    << ") is " << compare(paired(*e, *b, metric::test_acc), kAccuracy, "higher", "lower", "the baseline's best checkpoint's")
    << ".\n\n";
  const auto last_minus_best = within(*b, metric::last_test_loss, metric::test_loss);
  s << "The baseline's last-epoch model, which is what training without a checkpoint would keep, scores "
    << mean_sd(over_seeds(*b, metric::last_test_acc), kAccuracy, false) << " on the test set; its test loss ("
    << mean_sd(over_seeds(*b, metric::last_test_loss), kLoss, false) << ") is "
    << compare(last_minus_best, kLoss, "higher", "lower", "that of its best checkpoint") << ". ";
  const auto val_rise = within(*b, metric::last_val_loss, metric::best_val_loss);
  const auto train_fall = within(*b, metric::last_train_loss, metric::best_train_loss);
  if (shows(last_minus_best, 1) && shows(val_rise, 1) && shows(train_fall, -1)) {
    s << "After the best epoch the validation loss rose (from " << loss4(over_seeds(*b, metric::best_val_loss).mean)
      << " to " << loss4(over_seeds(*b, metric::last_val_loss).mean) << ", " << means_over(b->size()) << ") while the training loss "
      << "kept falling (to " << loss4(over_seeds(*b, metric::last_train_loss).mean)
      << "): the signature of overfitting, which the checkpoint undoes. ";
  }
  s << "Training took " << secs(over_seeds(*e, metric::seconds).mean) << " per seed with early stopping, which is "
    << compare(paired(*e, *b, metric::seconds), kSeconds, "longer", "shorter",
               "the baseline's " + secs(over_seeds(*b, metric::seconds).mean))
    << ".\n";
  return s.str();
}

inline std::string observe_schedule(const StudyResults& R) {
  const SeedRuns* b = runs_of(R, "baseline");
  const SeedRuns* c = runs_of(R, "cosine_lr");
  if (b == nullptr || c == nullptr || c->begin()->second.history.epochs.empty()) return "";
  const auto& e = c->begin()->second.history.epochs;  // the rate is the same for every seed
  std::ostringstream s;
  s << "The cosine schedule lowers the learning rate at every step: it was " << fmt("%.3g", e.front().lr)
    << " at the end of epoch " << e.front().epoch;
  if (e.size() == 1) {  // one epoch: its end is the only point to give
    s << ", the only epoch. ";
  } else {
    s << ", ";
    if (e.size() > 3) s << fmt("%.3g", e[e.size() / 2].lr) << " at the end of epoch " << e[e.size() / 2].epoch << " ";
    s << "and " << fmt("%.3g", e.back().lr) << " at the end of epoch " << e.back().epoch << ". ";
  }
  s
    << "Its lowest validation loss (" << mean_sd(over_seeds(*c, metric::best_val_loss), kLoss, false) << ", at epoch "
    << range_text(over_seeds(*c, metric::best_epoch)) << ") is "
    << compare(paired(*c, *b, metric::best_val_loss), kLoss, "higher", "lower",
               "the constant rate's (" + loss4(over_seeds(*b, metric::best_val_loss).mean) + ")")
    << "; the best checkpoint's test accuracy (" << mean_sd(over_seeds(*c, metric::test_acc), kAccuracy, false)
    << ") is " << compare(paired(*c, *b, metric::test_acc), kAccuracy, "higher", "lower", "the constant rate's")
    << ". At the last epoch the training loss (" << loss4(over_seeds(*c, metric::last_train_loss).mean) << ") is "
    << compare(paired(*c, *b, metric::last_train_loss), kLoss, "higher", "lower",
               "the constant rate's (" + loss4(over_seeds(*b, metric::last_train_loss).mean) + ")")
    << ", and the last epoch's model scores " << mean_sd(over_seeds(*c, metric::last_test_acc), kAccuracy, false)
    << " on the test set, "
    << compare(paired(*c, *b, metric::last_test_acc), kAccuracy, "higher", "lower", "the constant rate's last epoch")
    << ".\n";
  return s.str();
}

inline std::string observe_batchnorm(const StudyResults& R) {
  const SeedRuns* b = runs_of(R, "baseline");
  const SeedRuns* n = runs_of(R, "batchnorm");
  if (b == nullptr || n == nullptr) return "";
  const double level = std::floor((over_seeds(*b, metric::max_val_acc).mean - 0.01) * 1000.0) / 1000.0;
  const Metric reach = metric::epoch_reaching(level);
  const auto reach_n = over_seeds(*n, reach), reach_b = over_seeds(*b, reach);
  std::ostringstream s;
  s << "Validation accuracy first reached " << pct(level) << " (one point below the baseline's best, "
    << means_over(b->size(), "mean") << ") at epoch " << range_text(reach_n) << " with BatchNorm (in "
    << of_seeds(static_cast<long long>(reach_n.n), n->size()) << ") and at epoch " << range_text(reach_b)
    << " without (in " << of_seeds(static_cast<long long>(reach_b.n), b->size()) << "): with BatchNorm that epoch is " << compare(paired(*n, *b, reach), kEpochs, "later", "earlier", "without")
    << ". Its lowest validation loss (" << mean_sd(over_seeds(*n, metric::best_val_loss), kLoss, false) << ") is "
    << compare(paired(*n, *b, metric::best_val_loss), kLoss, "higher", "lower", "the baseline's") << "; "
    << "its test accuracy (" << mean_sd(over_seeds(*n, metric::test_acc), kAccuracy, false) << ") is "
    << compare(paired(*n, *b, metric::test_acc), kAccuracy, "higher", "lower", "the baseline's") << ". An epoch took "
    << secs(over_seeds(*n, metric::seconds_per_epoch).mean) << " with BatchNorm, "
    << compare(paired(*n, *b, metric::seconds_per_epoch), kEpochSeconds, "longer", "shorter",
               "without (" + secs(over_seeds(*b, metric::seconds_per_epoch).mean) + ")")
    << ".\n";
  return s.str();
}

inline std::string optimizer_line(const std::string& name, const SeedRuns& runs) {
  std::ostringstream s;
  const auto epochs = over_seeds(runs, metric::epochs_run);
  s << "- " << name << ": training loss " << loss4(over_seeds(runs, metric::first_train_loss).mean);
  if (epochs.max <= 1) {  // the first epoch is the last: one loss to give
    s << " after its one epoch";
  } else {
    s << " after epoch 1 and " << loss4(over_seeds(runs, metric::last_train_loss).mean) << " after epoch "
      << range_text(epochs);
  }
  s << " (" << means_over(runs.size(), epochs.max <= 1 ? "mean" : "means") << "); lowest validation loss "
    << loss4(over_seeds(runs, metric::best_val_loss).mean) << " at epoch "
    << range_text(over_seeds(runs, metric::best_epoch)) << "; test accuracy "
    << mean_sd(over_seeds(runs, metric::test_acc), kAccuracy) << ".\n";
  return s.str();
}

// Plain SGD still improving at the end: its validation loss fell over the last five epochs.
inline bool still_falling(const RunResult& r) {
  const auto& e = r.history.epochs;
  return e.size() > 5 && e[e.size() - 6].val_loss > e.back().val_loss;
}

inline std::string observe_optimizer(const StudyResults& R) {
  const SeedRuns* adam = runs_of(R, "baseline");
  std::ostringstream s;
  const std::pair<const char*, const char*> runs[] = {
      {"baseline", "Adam (lr 1e-3)"}, {"sgd", "SGD (lr 0.01)"}, {"sgd_momentum", "SGD with momentum 0.9 (lr 0.01)"}};
  for (const auto& [id, name] : runs) {
    if (const SeedRuns* r = runs_of(R, id)) s << optimizer_line(name, *r);
  }
  s << "\n";
  for (const auto& [id, name] : {runs[1], runs[2]}) {
    const SeedRuns* r = runs_of(R, id);
    if (r == nullptr || adam == nullptr) continue;
    s << name << ": the last epoch's training loss is "
      << compare(paired(*r, *adam, metric::last_train_loss), kLoss, "higher", "lower", "Adam's")
      << ", and its test accuracy is "
      << compare(paired(*r, *adam, metric::test_acc), kAccuracy, "higher", "lower", "Adam's") << ". ";
  }
  if (const SeedRuns* sgd = runs_of(R, "sgd")) {
    const int falling = count_runs(*sgd, still_falling);
    const int last_is_best = count_runs(*sgd, [](const RunResult& r) {
      return r.best_epoch > 0 && r.best_epoch == static_cast<int>(r.history.epochs.size());
    });
    if (over_seeds(*sgd, metric::epochs_run).max <= 5) {  // "in 0 of 3 seeds" would suggest that it was looked at
      s << "Plain SGD ran " << epochs_text(over_seeds(*sgd, metric::epochs_run)) << ", too few to tell whether its validation loss was still "
           "falling over its last five.";
    } else {
      s << "Plain SGD's validation loss still fell over its last five epochs in " << of_seeds(falling, sgd->size())
        << ", and its best epoch was its last one in " << last_is_best << ".";
    }
  }
  s << "\n";
  return s.str();
}

}  // namespace study
