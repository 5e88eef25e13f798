// A monitor watches one metric over the epochs and keeps its best value: the one concept behind
// every callback that reacts to a metric (EarlyStopping, BestCheckpoint, ReduceLROnPlateau).
//   improves(v):  mode min: v < best - min_delta     mode max: v > best + min_delta
//   relative:     mode min: v < best * (1 - min_delta)  (PyTorch's threshold_mode "rel")
// "Auto" maximizes a metric whose name ends in "acc" or "accuracy" (in any case) and minimizes one
// with "loss" or "error" and without "acc" in it; any other name needs a mode. NaN never improves.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/text_format.hpp"
#include "mlp/core/types.hpp"
#include "mlp/io/container.hpp"
#include "mlp/train/history.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace mlp {

enum class MonitorMode { Auto, Min, Max };

class Monitor {
 public:
  explicit Monitor(std::string metric = "val_loss", MonitorMode mode = MonitorMode::Auto,
                   double min_delta = 0.0, bool relative = false)
      : metric_(std::move(metric)), min_delta_(min_delta), relative_(relative) {
    detail::require(!metric_.empty(), "a monitor needs a metric name");
    detail::require(std::isfinite(min_delta) && min_delta >= 0.0, "monitor min_delta has to be >= 0, but got ", min_delta);
    if (mode == MonitorMode::Auto) {
      // (val_accumulated_error was maximized): "acc" only at the end says accuracy
      std::string lower = metric_;  // (val_Accuracy was minimized)
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto ends_with = [&lower](std::string_view end) {
        return lower.size() >= end.size() && lower.compare(lower.size() - end.size(), end.size(), end) == 0;
      };
      // (val_f1 and val_auc were minimized: "no acc" does not say a loss)
      const bool accuracy = ends_with("acc") || ends_with("accuracy");
      const bool loss = lower.find("acc") == std::string::npos &&
                        (lower.find("loss") != std::string::npos || lower.find("error") != std::string::npos);
      detail::require(accuracy || loss, "Monitor: cannot tell whether '", metric_, "' is to be minimized or maximized ",
                      "(Auto maximizes names ending in acc or accuracy, and minimizes names with loss or error and ",
                      "without acc); give MonitorMode::Min or MonitorMode::Max");
      mode = accuracy ? MonitorMode::Max : MonitorMode::Min;
    }
    minimize_ = mode == MonitorMode::Min;
    // (in Min mode best * (1 - min_delta) is 0 or below at 1 and more: nothing would ever improve)
    detail::require(!(relative && minimize_ && min_delta >= 1.0), "a relative min_delta has to be below 1 when '",
                    metric_, "' is minimized, but got ", min_delta);
    reset();
  }

  bool improves(double value) const {
    if (relative_) return minimize_ ? value < best_ * (1.0 - min_delta_) : value > best_ * (1.0 + min_delta_);
    return minimize_ ? value < best_ - min_delta_ : value > best_ + min_delta_;
  }
  // Records `value` of `epoch`; true when it improved on the best (which it then becomes).
  bool update(double value, int epoch) {
    if (!improves(value)) return false;
    best_ = value;
    best_epoch_ = epoch;
    return true;
  }
  void reset() {
    best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    best_epoch_ = 0;
  }

  // The watched metric in `log`, for the callback named `watcher`. (A metric that a callback logs
  // in some epochs only failed as an "unknown metric", without naming who needed it.)
  double value_in(const EpochLog& log, const std::string& watcher) const {
    detail::require<RuntimeError>(log.has(metric_), "callback '", watcher, "' monitors '", metric_, "', but epoch ",
                                  log.epoch, "'s log does not have it: a monitored metric has to be logged at the end ",
                                  "of every epoch (this one has ", log.names(), ")");
    return log.get(metric_);
  }

  const std::string& metric() const { return metric_; }
  bool minimizes() const { return minimize_; }
  double min_delta() const { return min_delta_; }
  double best() const { return best_; }
  int best_epoch() const { return best_epoch_; }  // 1-based; 0 before any improvement

  // Checkpoint support: the metric and the mode, so that another monitor's best is refused.
  void save(TextSection& out) const {
    out["monitor_metric"] = metric_;
    out["monitor_mode"] = minimize_ ? "min" : "max";
    out["monitor_best"] = detail::exact(best_);
    out["monitor_best_epoch"] = std::to_string(best_epoch_);
  }
  // The best epoch has to be one of the resumed history's, and the best value that epoch's metric.
  void load(const ContainerReader& in, const std::string& section, const History& resumed) {
    const auto done = static_cast<std::int64_t>(resumed.epochs.size());
    const TextSection& t = in.text(section);
    // (files before 2026-12-06 do not say; the history check below then tells most monitors apart)
    if (t.count("monitor_metric") != 0 || t.count("monitor_mode") != 0) {
      const std::string& metric = in.value(section, "monitor_metric");
      const std::string& mode = in.value(section, "monitor_mode");
      if (metric != metric_ || mode != (minimize_ ? "min" : "max")) {
        in.fail("holds the state of a monitor of ", metric, " (", mode, ") in '", section, "', but this one ",
                minimize_ ? "minimizes " : "maximizes ", metric_, " (the same callbacks with the same monitors resume)");
      }
    }
    std::int64_t epoch = 0;
    double best = 0.0;
    const double none = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    if (!detail::parse_double(in.value(section, "monitor_best"), best) ||
        !detail::parse_int64(in.value(section, "monitor_best_epoch"), epoch) || epoch < 0 || epoch > done ||
        std::isnan(best) || (epoch == 0 ? best != none : std::isinf(best))) {
      in.fail("has a bad monitor state in '", section, "' (best epoch ", in.value(section, "monitor_best_epoch"),
              " of ", done, " epochs done)");
    }
    if (epoch > 0) {
      const EpochLog& e = resumed.epochs[static_cast<std::size_t>(epoch - 1)];
      if (!e.has(metric_) || !(e.get(metric_) == best)) {
        in.fail("holds a best ", metric_, " of ", best, " at epoch ", epoch, " in '", section,
                "' that its history does not show (another metric's monitor?)");
      }
    }
    best_ = best;
    best_epoch_ = static_cast<int>(epoch);
  }

 private:
  std::string metric_;
  double min_delta_;
  bool relative_;
  bool minimize_ = true;
  double best_ = 0.0;
  int best_epoch_ = 0;
};

}  // namespace mlp
