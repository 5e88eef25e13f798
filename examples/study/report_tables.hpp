// The report's tables: which cells are missing, every experiment over seeds, the effects against the
// baseline (paired by seed, with intervals and verdicts), every single cell, and where the time went.
#pragma once

#include "aggregate.hpp"
#include "cells.hpp"
#include "experiments.hpp"
#include "wording.hpp"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace study {

// "All 70 cells are finished." or the list of those that are not, and why.
inline std::string cells_section(const std::vector<CellStatus>& statuses) {
  std::ostringstream s;
  std::vector<const CellStatus*> open;
  for (const auto& c : statuses) {
    if (c.state != CellStatus::State::Finished) open.push_back(&c);
  }
  if (open.empty()) {
    s << (statuses.size() == 1 ? std::string("The one cell (experiment x seed) is finished.\n")
                               : "All " + std::to_string(statuses.size()) + " cells (experiment x seed) are finished.\n");
    return s.str();
  }
  const std::size_t finished = statuses.size() - open.size();
  s << "**" << finished << " of " << count_noun(static_cast<long long>(statuses.size()), "cell")
    << (finished == 1 ? " is" : " are") << " finished.** The numbers "
    << "below are over the seeds that are; these cells are not (rerun the same command, or `--only <cell>`, to "
    << "compute them):\n\n";
  for (const auto* c : open) s << "- `" << c->cell.name() << "`: " << why_not_finished(*c) << "\n";
  return s.str();
}

// | run | change | seeds | test acc mean ± sd (range) | test loss | best epoch | epochs run | time | parameters |
inline std::string summary_table(const std::vector<Experiment>& experiments, const StudyResults& R) {
  std::ostringstream s;
  s << "| run | the one change | seeds | test acc (best ckpt), mean ± sd (min-max) | test loss (best ckpt), mean ± sd | "
       "best epoch | epochs run | training time (mean) | parameters |\n"
    << "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& x : experiments) {
    const SeedRuns* r = runs_of(R, x.id);
    if (r == nullptr) continue;
    const int stopped = count_runs(*r, [](const mlp::app::RunResult& v) { return v.history.stopped_early; });
    s << "| `" << x.id << "` | " << x.change << " | " << r->size() << " | " << mean_sd(over_seeds(*r, metric::test_acc), kAccuracy)
      << " | " << mean_sd(over_seeds(*r, metric::test_loss), kLoss, false) << " | "
      << range_text(over_seeds(*r, metric::best_epoch)) << " | " << range_text(over_seeds(*r, metric::epochs_run))
      << (stopped > 0 ? " (" + std::to_string(stopped) + " stopped early)" : "") << " | "
      << secs(over_seeds(*r, metric::seconds).mean) << " | " << r->begin()->second.parameters << " |\n";
  }
  return s.str();
}

inline std::string effect_row(const std::string& name, const SeedRuns& a, const SeedRuns& b) {
  const auto acc = paired(a, b, metric::test_acc), loss = paired(a, b, metric::test_loss);
  return "| " + name + " | " + std::to_string(acc.n) + " | " + interval_cell(acc, kAccuracy) + " | " + verdict(acc, true) +
         " | " + interval_cell(loss, kLoss) + " | " + verdict(loss, false) + " |\n";
}

// The paired differences from the baseline (and the CNN's from the matched MLP).
inline std::string effects_table(const std::vector<Experiment>& experiments, const StudyResults& R) {
  const SeedRuns* b = runs_of(R, "baseline");
  if (b == nullptr) return "The baseline has no finished seed, so no effect can be computed.\n";
  std::ostringstream s;
  s << "| run vs `baseline` | paired seeds | test acc difference, mean [95% CI] | verdict | test loss difference, "
       "mean [95% CI] | verdict (a lower loss is the improvement) |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& x : experiments) {
    const SeedRuns* r = runs_of(R, x.id);
    if (r != nullptr && x.id != "baseline") s << effect_row("`" + x.id + "`", *r, *b);
  }
  const SeedRuns* cnn = runs_of(R, "cnn");
  const SeedRuns* mlp = runs_of(R, "mlp_matched");
  if (cnn != nullptr && mlp != nullptr) s << effect_row("`cnn` vs `mlp_matched`", *cnn, *mlp);
  return s.str();
}

// One row per cell, as the single-seed study's table had one per run.
inline std::string cell_row(const Experiment& x, std::uint64_t seed, const mlp::app::RunResult& r) {
  std::ostringstream s;
  s << "| `" << x.id << "` | " << seed << " | " << pct(r.test_best.accuracy) << " | " << loss4(r.test_best.loss) << " | "
    << pct(r.test_last.accuracy) << " | " << loss4(r.test_last.loss) << " | " << r.best_epoch << " | "
    << r.history.epochs.size() << (r.history.stopped_early ? " (stopped early)" : "")
    << (r.history.diverged ? " (diverged)" : "") << " | " << secs(r.train_seconds) << " | " << r.parameters << " |\n";
  return s.str();
}

inline std::string cells_table(const std::vector<Experiment>& experiments, const StudyResults& R) {
  std::ostringstream s;
  s << "| run | seed | test acc (best ckpt) | test loss (best ckpt) | test acc (last epoch) | test loss (last epoch) | "
       "best epoch | epochs run | training time | parameters |\n"
    << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& x : experiments) {
    if (const SeedRuns* r = runs_of(R, x.id)) {
      for (const auto& [seed, run] : *r) s << cell_row(x, seed, run);
    }
  }
  return s.str();
}

struct StudyTiming {
  double wall_seconds = 0.0;  // this invocation, data loading included
  double data_seconds = 0.0;
  int jobs = 1;               // cells trained at a time
  int trained = 0;            // cells trained by this invocation
  int cell_threads = 1;       // threads of each cell
  int cores = 1;              // of the machine that writes the report
};

// Where the training time went, and what the whole study costs on `jobs` cores or on a cluster.
inline std::string time_section(const std::vector<Experiment>& experiments, const StudyResults& R, const StudyTiming& t) {
  std::ostringstream s;
  std::size_t cells = 0;
  double total = 0.0, longest = 0.0;
  std::string longest_cell;
  std::vector<std::pair<double, std::string>> by_experiment;
  for (const auto& x : experiments) {
    const SeedRuns* r = runs_of(R, x.id);
    if (r == nullptr) continue;
    double sum = 0.0;
    for (const auto& [seed, run] : *r) {
      sum += run.train_seconds;
      // (the first cell when every time is 0: a name, not an empty one)
      if (longest_cell.empty() || run.train_seconds > longest) longest = run.train_seconds, longest_cell = cell_name(x.id, seed);
    }
    cells += r->size();
    total += sum;
    by_experiment.push_back({sum, x.id});
  }
  std::sort(by_experiment.rbegin(), by_experiment.rend());
  s << "This invocation ran for " << secs(t.wall_seconds) << " of wall time (" << secs(t.data_seconds)
    << " of it loading and preparing the data) and trained ";
  const std::string finished_cells = cells == 1 ? "the one finished cell" : "the " + std::to_string(cells) + " finished cells";
  if (t.trained > 0) {
    s << t.trained << " of " << finished_cells << ", " << t.jobs << " at a time with "
      << (t.cell_threads == 1 ? std::string("one thread") : std::to_string(t.cell_threads) + " threads") << " each"
      << (t.trained + 1 == static_cast<int>(cells) ? "; the other had finished earlier with the same configuration and "
                                                      "was not recomputed (its time is its own run's)"
          : t.trained < static_cast<int>(cells) ? "; the others had finished earlier with the same configuration and "
                                                 "were not recomputed (their times are their own runs')" : "");
  } else {
    s << (cells == 1 ? "not " : "none of ") << finished_cells << ": " << (cells == 1 ? "it" : "they")
      << " had finished earlier with the same configuration (" << (cells == 1 ? "its time is its own run's)" : "their "
         "times are their own runs')");
  }
  s << ".\n\nTraining time (training and validation passes) by experiment, summed over its seeds:\n\n"
    << "| run | seeds | total | mean per seed | share |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& [sum, id] : by_experiment) {
    const std::size_t n = R.at(id).size();
    s << "| `" << id << "` | " << n << " | " << secs(sum) << " | " << secs(sum / static_cast<double>(n)) << " | "
      << fmt("%.0f%%", 100.0 * sum / std::max(total, 1e-9)) << " |\n";
  }
  const int cores = std::max(t.cores, 1);
  s << "| all | " << cells << " | " << secs(total) << " | | |\n\nOn this machine's " << count_noun(cores, "core")
    << ", one cell per core, these cells need about " << secs(total / cores) << " of training (plus data loading and the test "
    << "evaluations)";
  if (!longest_cell.empty()) {
    s << "; on a Slurm cluster with a free core for every cell, about the longest cell, `" << longest_cell << "` ("
      << secs(longest) << ")";
  }
  s << ".\n";
  return s.str();
}

}  // namespace study
