// Synthetic results for the study's report tests: runs whose every number is a linear function of
// a shift (a real effect) and a jitter j (seed noise). Paired with the baseline, jitters that sum
// to zero over the seeds give differences whose interval includes 0, so the report must claim no
// effect; a shift much larger than the jitter gives an interval that excludes 0.
#pragma once

#include "study/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace study_test {

// Five seeds, the seed-to-seed variation of every run, and per-seed noise that sums to 0 (no effect).
inline const std::vector<std::uint64_t> kSeeds = {42, 43, 44, 45, 46};
inline const std::vector<double> kBase = {0.3, -0.2, 0.1, 0.0, -0.2};
inline const std::vector<double> kNoise = {1.0, -1.0, 0.5, -0.5, 0.0};

inline mlp::app::RunResult synthetic_run(const study::Experiment& x, std::uint64_t seed, double shift, double j) {
  mlp::app::RunResult r;
  r.config = x.config;
  r.config.seed = seed;
  for (int e = 1; e <= 10; ++e) {
    mlp::EpochLog log;
    log.epoch = e;
    log.train_loss = 1.0 / e - shift + 0.01 * j;
    log.val_loss = 0.5 + 0.01 * (e - 4) * (e - 4) - shift + 0.01 * j;  // lowest at epoch 4
    log.train_acc = 0.8 + 0.01 * e;
    log.val_acc = 0.8 + 0.01 * e + shift + 0.001 * j;
    log.lr = 1e-3 * (1.0 - e / 11.0);
    log.seconds = 1.0 + shift + 0.1 * j;
    log.penalty = 0.01;
    r.history.epochs.push_back(log);
    r.train_seconds += log.seconds;
  }
  r.best_epoch = 4;
  r.test_best.accuracy = 0.88 + shift + 0.002 * j;
  r.test_best.loss = 0.33 - shift + 0.003 * j;
  r.test_last = r.test_best;
  r.test_last.loss += 0.01 * j;  // no overfitting on the test set unless a test says so
  r.parameters = 1000;
  r.test_best.confusion = mlp::ConfusionMatrix(10);
  for (mlp::Index k = 0; k < 10; ++k) {
    const auto right = static_cast<mlp::Index>(std::lround(900 + 1000 * shift + 20 * j));
    r.test_best.confusion.add_count(k, k, right);
    r.test_best.confusion.add_count(k, (k + 2) % 10, 1000 - right);  // T-shirt (0) <-> Pullover (2) ... Shirt (6) -> Bag
  }
  return r;
}

inline const std::vector<std::string>& fashion_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

// A whole study: every experiment with `seeds`; experiment x at seed k has jitter base[k] +
// noise[k] (the baseline: base[k]) and the shift of `shift_of(x.id)`.
template <class Shift>
study::ReportInput synthetic_study(const std::vector<study::Experiment>& experiments, const std::vector<std::uint64_t>& seeds,
                                   const std::vector<double>& base, const std::vector<double>& noise, Shift shift_of) {
  study::ReportInput in;
  in.experiments = experiments;
  in.seeds = seeds;
  for (const auto& cell : study::make_cells(in.experiments, seeds)) {
    const std::size_t k = static_cast<std::size_t>(std::find(seeds.begin(), seeds.end(), cell.seed) - seeds.begin());
    const bool is_base = cell.experiment->id == "baseline";
    // The matched MLP's noise is half the others': with the CNN's it would make their paired
    // differences the same in every seed, which the report rightly does not judge.
    const double own_noise = cell.experiment->id == "mlp_matched" ? 0.5 * noise[k] : noise[k];
    const auto run = synthetic_run(*cell.experiment, cell.seed, is_base ? 0.0 : shift_of(cell.experiment->id),
                                   base[k] + (is_base ? 0.0 : own_noise));
    in.results[cell.experiment->id][cell.seed] = run;
    in.statuses.push_back({cell, study::CellStatus::State::Finished, run, ""});
  }
  in.data_facts = "synthetic\n";
  in.cnn = {fashion_classes(), mlp::Shape(1, 28, 28)};
  return in;
}

// The study's experiments with these ids only, in the study's order (a study some of whose
// experiments have no finished cell).
inline std::vector<study::Experiment> only_experiments(const std::vector<std::string>& ids) {
  std::vector<study::Experiment> kept;
  for (const auto& x : study::all_experiments(mlp::DatasetKind::FashionMnist)) {
    if (std::find(ids.begin(), ids.end(), x.id) != ids.end()) kept.push_back(x);
  }
  return kept;
}

// Cuts every run to its first `epochs` epochs, as a study run with --epochs would have them
// (the best epoch, the time and the configuration follow).
inline void keep_epochs(study::ReportInput& in, int epochs) {
  auto cut = [epochs](mlp::app::RunResult& r) {
    r.history.epochs.resize(static_cast<std::size_t>(epochs));
    r.best_epoch = std::min(r.best_epoch, epochs);
    r.config.epochs = epochs;
    r.config.patience = std::min(r.config.patience, epochs);
    r.train_seconds = 0.0;
    for (const auto& e : r.history.epochs) r.train_seconds += e.seconds;
  };
  for (auto& [id, runs] : in.results) {
    for (auto& [seed, r] : runs) cut(r);
  }
  for (auto& c : in.statuses) {
    if (c.result) cut(*c.result);
  }
  for (auto& x : in.experiments) {
    x.config.epochs = epochs;
    x.config.patience = std::min(x.config.patience, epochs);
  }
}

// Phrases that state an effect: they may only appear where an interval excludes 0.
inline const std::vector<std::string>& claim_phrases() {
  static const std::vector<std::string> phrases = {
      "higher than", "lower than", "wider than", "narrower than", "longer than", "shorter than", "earlier than",
      "later than", "more than", "fewer than", "better", "worse", "rose", "kept falling", "helps here", "detectable gain",
      "signature of overfitting"};
  return phrases;
}

// The report without its introduction (which explains the verdict words in quotes).
inline std::string claims_part(const std::string& report) { return report.substr(report.find("## Cells")); }

}  // namespace study_test
