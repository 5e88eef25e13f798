// What a training run records: one EpochLog per epoch, and how the run ended.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/train/metrics.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace mlp {

struct EpochLog {
  int epoch = 0;              // 1-based
  double train_loss = 0.0;    // data loss (no penalty), mean over the epoch's samples, Train mode
  double train_acc = 0.0;     // fraction correct over the epoch's samples, Train mode
  double penalty = 0.0;       // L1/L2 penalty, mean over the epoch's steps
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // Eval mode; NaN without validation
  double val_acc = std::numeric_limits<double>::quiet_NaN();
  double lr = 0.0;            // learning rate of the epoch's last step
  double seconds = 0.0;       // wall time of the epoch (training and validation)
  std::int64_t steps = 0;     // optimizer steps done at the end of the epoch

  // A metric by name: "train_loss", "train_acc", "val_loss", "val_acc", "lr", "penalty".
  double get(const std::string& metric) const {
    if (metric == "train_loss") return train_loss;
    if (metric == "train_acc") return train_acc;
    if (metric == "val_loss") return val_loss;
    if (metric == "val_acc") return val_acc;
    if (metric == "lr") return lr;
    if (metric == "penalty") return penalty;
    detail::fail("unknown metric '", metric,
                 "' (expected train_loss, train_acc, val_loss, val_acc, lr or penalty)");
  }
};

inline bool is_known_metric(const std::string& metric) {
  return metric == "train_loss" || metric == "train_acc" || metric == "val_loss" ||
         metric == "val_acc" || metric == "lr" || metric == "penalty";
}

struct History {
  std::vector<EpochLog> epochs;
  std::string stop_reason;  // why training ended ("completed 30 epochs", early stopping, NaN...)
  bool stopped_early = false;  // a callback asked to stop before the last epoch
  bool diverged = false;       // a non-finite loss ended training
  bool interrupted = false;    // stopped from outside (Trainer::request_interrupt)
};

// Loss and accuracy over a whole data set, in Eval mode.
struct EvalResult {
  double loss = 0.0;      // mean cross-entropy over the samples (no label smoothing, no penalty)
  double accuracy = 0.0;  // fraction correct
  Index samples = 0;
  ConfusionMatrix confusion;
};

}  // namespace mlp
