// A monitor watches one metric over the epochs and keeps its best value: the one concept behind
// every callback that reacts to a metric (EarlyStopping, BestCheckpoint, ReduceLROnPlateau).
//   improves(v):  mode min: v < best - min_delta     mode max: v > best + min_delta
//   relative:     mode min: v < best * (1 - min_delta)  (PyTorch's threshold_mode "rel")
// "Auto" maximizes a metric whose name ends in "acc" or "accuracy" and minimizes one without "acc"
// in it; any other name needs a mode. NaN never improves.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/text_format.hpp"
#include "mlp/core/types.hpp"
#include "mlp/io/container.hpp"

#include <cmath>
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
      const auto ends_with = [this](std::string_view end) {
        return metric_.size() >= end.size() && metric_.compare(metric_.size() - end.size(), end.size(), end) == 0;
      };
      const bool accuracy = ends_with("acc") || ends_with("accuracy");
      detail::require(accuracy || metric_.find("acc") == std::string::npos, "Monitor: cannot tell whether '", metric_,
                      "' is to be minimized or maximized (Auto maximizes names ending in acc or accuracy); give "
                      "MonitorMode::Min or MonitorMode::Max");
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

  const std::string& metric() const { return metric_; }
  bool minimizes() const { return minimize_; }
  double min_delta() const { return min_delta_; }
  double best() const { return best_; }
  int best_epoch() const { return best_epoch_; }  // 1-based; 0 before any improvement

  // Checkpoint support. `epochs_done` bounds the best epoch read back.
  void save(TextSection& out) const {
    out["monitor_best"] = detail::exact(best_);
    out["monitor_best_epoch"] = std::to_string(best_epoch_);
  }
  void load(const ContainerReader& in, const std::string& section, std::int64_t epochs_done) {
    std::int64_t epoch = 0;
    double best = 0.0;
    if (!detail::parse_double(in.value(section, "monitor_best"), best) ||
        !detail::parse_int64(in.value(section, "monitor_best_epoch"), epoch) || epoch < 0 || epoch > epochs_done ||
        std::isnan(best) || (epoch == 0) != std::isinf(best)) {
      in.fail("has a bad monitor state in '", section, "' (best epoch ", in.value(section, "monitor_best_epoch"),
              " of ", epochs_done, " epochs done)");
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
