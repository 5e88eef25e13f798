// The study's results over seeds: every finished cell by experiment and seed, the numbers the
// report reads off a run (metrics), their summaries over seeds, and paired differences between two
// experiments over the seeds both have (the difference of seed s is experiment(s) - reference(s)).
#pragma once

#include <mlp_app/run_summary.hpp>
#include <mlp_app/stats.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace study {

using SeedRuns = std::map<std::uint64_t, mlp::app::RunResult>;  // by seed
using StudyResults = std::map<std::string, SeedRuns>;          // by experiment id
using Metric = std::function<double(const mlp::app::RunResult&)>;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The numbers of one run that the report uses. NaN where a run has none (no epochs, no best epoch).
namespace metric {

inline const mlp::EpochLog* best_log(const mlp::app::RunResult& r) {
  return r.best_epoch > 0 && r.best_epoch <= static_cast<int>(r.history.epochs.size())
             ? &r.history.epochs[static_cast<std::size_t>(r.best_epoch - 1)]
             : nullptr;
}
inline double test_acc(const mlp::app::RunResult& r) { return r.test_best.accuracy; }
inline double test_loss(const mlp::app::RunResult& r) { return r.test_best.loss; }
inline double last_test_acc(const mlp::app::RunResult& r) { return r.test_last.accuracy; }
inline double last_test_loss(const mlp::app::RunResult& r) { return r.test_last.loss; }
inline double best_epoch(const mlp::app::RunResult& r) { return r.best_epoch > 0 ? r.best_epoch : kNaN; }
inline double epochs_run(const mlp::app::RunResult& r) { return static_cast<double>(r.history.epochs.size()); }
inline double seconds(const mlp::app::RunResult& r) { return r.train_seconds; }
inline double seconds_per_epoch(const mlp::app::RunResult& r) {
  return r.history.epochs.empty() ? kNaN : r.train_seconds / epochs_run(r);
}
inline double best_val_loss(const mlp::app::RunResult& r) { return best_log(r) ? best_log(r)->val_loss : kNaN; }
inline double best_train_loss(const mlp::app::RunResult& r) { return best_log(r) ? best_log(r)->train_loss : kNaN; }
inline double best_val_acc(const mlp::app::RunResult& r) { return best_log(r) ? best_log(r)->val_acc : kNaN; }
inline double first_train_loss(const mlp::app::RunResult& r) {
  return r.history.epochs.empty() ? kNaN : r.history.epochs.front().train_loss;
}
inline double last_train_loss(const mlp::app::RunResult& r) {
  return r.history.epochs.empty() ? kNaN : r.history.epochs.back().train_loss;
}
inline double last_val_loss(const mlp::app::RunResult& r) {
  return r.history.epochs.empty() ? kNaN : r.history.epochs.back().val_loss;
}
// Validation minus training loss at the last epoch: how far the model has overfitted.
inline double gap(const mlp::app::RunResult& r) { return last_val_loss(r) - last_train_loss(r); }
inline double max_val_acc(const mlp::app::RunResult& r) {
  double m = kNaN;
  for (const auto& e : r.history.epochs) m = std::isnan(m) ? e.val_acc : std::max(m, e.val_acc);
  return m;
}
// The first epoch whose validation accuracy reaches `level`; NaN if none does.
inline Metric epoch_reaching(double level) {
  return [level](const mlp::app::RunResult& r) {
    for (const auto& e : r.history.epochs) {
      if (e.val_acc >= level) return static_cast<double>(e.epoch);
    }
    return kNaN;
  };
}
// Test accuracy of one class (the best checkpoint's confusion matrix).
inline Metric class_acc(mlp::Index k) {
  return [k](const mlp::app::RunResult& r) {
    return k < r.test_best.confusion.classes() ? r.test_best.confusion.class_accuracy(k) : kNaN;
  };
}
// Test images of class `truth` predicted as `predicted`, plus the other way round.
inline Metric confusions_between(mlp::Index a, mlp::Index b) {
  return [a, b](const mlp::app::RunResult& r) {
    const auto& cm = r.test_best.confusion;
    if (a >= cm.classes() || b >= cm.classes()) return kNaN;
    return static_cast<double>(cm.count(a, b) + cm.count(b, a));
  };
}

}  // namespace metric

// The finite values of a metric over the seeds of one experiment.
inline std::vector<double> metric_values(const SeedRuns& runs, const Metric& m) {
  std::vector<double> v;
  for (const auto& [seed, r] : runs) {
    const double x = m(r);
    if (std::isfinite(x)) v.push_back(x);
  }
  return v;
}

inline mlp::app::SampleSummary over_seeds(const SeedRuns& runs, const Metric& m) {
  return mlp::app::summarize(metric_values(runs, m));
}

// m(a at seed s) - m(b at seed s) over the seeds both have (and where both values are finite),
// with the 95% t interval of its mean.
inline mlp::app::MeanInterval paired(const SeedRuns& a, const SeedRuns& b, const Metric& m) {
  std::vector<double> d;
  for (const auto& [seed, r] : a) {
    const auto other = b.find(seed);
    if (other == b.end()) continue;
    const double x = m(r), y = m(other->second);
    if (std::isfinite(x) && std::isfinite(y)) d.push_back(x - y);
  }
  return mlp::app::mean_interval(d, 0.95);
}

// Within each run: f(run) - g(run), e.g. the last epoch's test loss minus the best checkpoint's.
inline mlp::app::MeanInterval within(const SeedRuns& runs, const Metric& f, const Metric& g) {
  std::vector<double> d;
  for (const auto& [seed, r] : runs) {
    const double x = f(r), y = g(r);
    if (std::isfinite(x) && std::isfinite(y)) d.push_back(x - y);
  }
  return mlp::app::mean_interval(d, 0.95);
}

// How many runs satisfy a condition, for "in 4 of 5 seeds".
inline int count_runs(const SeedRuns& runs, const std::function<bool(const mlp::app::RunResult&)>& condition) {
  int n = 0;
  for (const auto& [seed, r] : runs) n += condition(r) ? 1 : 0;
  return n;
}

inline const SeedRuns* runs_of(const StudyResults& R, const std::string& id) {
  const auto it = R.find(id);
  return it == R.end() || it->second.empty() ? nullptr : &it->second;
}

}  // namespace study
