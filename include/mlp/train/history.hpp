// What a training run records: one EpochLog per epoch, and how the run ended. The names of the
// metrics are defined here, once; every logger, monitor and file uses these.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/train/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace mlp {

// The metrics every epoch logs (val_* only when training has validation data).
namespace metric {
inline constexpr const char* train_loss = "train_loss";  // plain cross-entropy, mean over the epoch
inline constexpr const char* train_acc = "train_acc";
inline constexpr const char* val_loss = "val_loss";
inline constexpr const char* val_acc = "val_acc";
inline constexpr const char* lr = "lr";
inline constexpr const char* penalty = "penalty";
inline constexpr const char* seconds = "seconds";
// Logged only with label smoothing: the smoothed training objective the optimizer minimizes.
inline constexpr const char* train_smoothed_loss = "train_smoothed_loss";
}  // namespace metric

inline const std::vector<std::string>& standard_metrics() {
  static const std::vector<std::string> names = {metric::train_loss, metric::train_acc, metric::val_loss,
                                                 metric::val_acc,    metric::lr,        metric::penalty,
                                                 metric::seconds};
  return names;
}

// Letters, digits and '_' only: metric names end up as CSV columns, TensorBoard tags and checkpoint keys.
inline bool is_metric_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

inline bool is_standard_metric(const std::string& name) {
  for (const auto& m : standard_metrics()) {
    if (m == name) return true;
  }
  return false;
}

struct EpochLog {
  int epoch = 0;              // 1-based
  double train_loss = 0.0;    // data loss (plain cross-entropy, no penalty), mean over the epoch's samples, Train mode
  double train_acc = 0.0;     // fraction correct over the epoch's samples, Train mode
  double penalty = 0.0;       // L1/L2 penalty, mean over the epoch's steps
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // Eval mode; NaN without validation
  double val_acc = std::numeric_limits<double>::quiet_NaN();
  double lr = 0.0;            // learning rate of the epoch's last step
  double seconds = 0.0;       // wall time of the epoch (training and validation)
  std::int64_t steps = 0;     // optimizer steps done at the end of the epoch
  std::map<std::string, double> custom;  // metrics of the user's (val_<Metric>, ctx.log) by name

  bool has(const std::string& name) const { return is_standard_metric(name) || custom.count(name) != 0; }

  // A metric by name: a standard one or one of `custom`.
  double get(const std::string& name) const {
    if (name == metric::train_loss) return train_loss;
    if (name == metric::train_acc) return train_acc;
    if (name == metric::val_loss) return val_loss;
    if (name == metric::val_acc) return val_acc;
    if (name == metric::lr) return lr;
    if (name == metric::penalty) return penalty;
    if (name == metric::seconds) return seconds;
    const auto it = custom.find(name);
    if (it != custom.end()) return it->second;
    detail::fail("unknown metric '", name, "' (epoch ", epoch, " has ", names(), ")");
  }
  // The metrics this epoch has, comma-separated: for messages.
  std::string names() const {
    std::string known;
    for (const auto& m : standard_metrics()) known += (known.empty() ? "" : ", ") + m;
    for (const auto& [m, v] : custom) known += ", " + m;
    return known;
  }
};

struct History {
  std::vector<EpochLog> epochs;
  std::string stop_reason;     // why training ended ("completed 30 epochs", early stopping, NaN...)
  bool stopped_early = false;  // a callback asked to stop
  bool diverged = false;       // a non-finite loss ended training
  bool interrupted = false;    // stopped from outside (Trainer::set_interrupt_flag)
};

// Loss and accuracy over a whole data set, in Eval mode.
struct EvalResult {
  double loss = 0.0;      // mean cross-entropy over the samples (no label smoothing, no penalty)
  double accuracy = 0.0;  // fraction correct
  Index samples = 0;
  ConfusionMatrix confusion;
  std::map<std::string, double> metrics;  // the user's Metrics, by name
};

}  // namespace mlp
