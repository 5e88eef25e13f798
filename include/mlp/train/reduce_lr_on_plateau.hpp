// ReduceLROnPlateau, PyTorch's semantics (mode min, relative threshold) as a callback: when the
// monitored metric has not improved for more than `patience` epochs, the trainer's lr_scale is
// multiplied by `factor` (never below min_scale), then `cooldown` epochs pass before counting again.
// Schedules stay pure functions of the step: this only scales what they return.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/train/callback.hpp"

#include <algorithm>
#include <limits>

namespace mlp {

template <class S = float>
class ReduceLROnPlateau final : public Callback<S> {
 public:
  explicit ReduceLROnPlateau(std::string monitor = "val_loss", double factor = 0.1, int patience = 10,
                             double threshold = 1e-4, int cooldown = 0, double min_scale = 0.0,
                             MonitorMode mode = MonitorMode::Auto)
      : monitor_(std::move(monitor)), factor_(factor), patience_(patience), threshold_(threshold),
        cooldown_(cooldown), min_scale_(min_scale), minimize_(monitor_minimizes(monitor_, mode)) {
    detail::require(factor > 0.0 && factor < 1.0, "ReduceLROnPlateau factor has to be in (0, 1), but got ", factor);
    detail::require(patience >= 0 && cooldown >= 0 && threshold >= 0.0 && min_scale >= 0.0,
                    "ReduceLROnPlateau needs patience, cooldown, threshold and min_scale >= 0");
    detail::require(is_known_metric(monitor_), "ReduceLROnPlateau cannot monitor unknown metric '",
                    monitor_, "'");
    best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }

  std::string name() const override { return "reduce_lr_on_plateau"; }

  void on_epoch_end(TrainContext<S>& ctx) override {
    const double value = ctx.log->get(monitor_);
    const bool improved = minimize_ ? value < best_ * (1.0 - threshold_) : value > best_ * (1.0 + threshold_);
    if (improved) {
      best_ = value;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_epochs_ = 0;
    }
    if (bad_epochs_ > patience_) {
      ctx.lr_scale = std::max(ctx.lr_scale * factor_, min_scale_);
      cooldown_left_ = cooldown_;
      bad_epochs_ = 0;
      ++reductions_;
    }
  }

  void save_state(ContainerWriter& out, const std::string& prefix) const override {
    out.add_text(prefix + "state", {{"best", detail::exact(best_)},
                                    {"bad_epochs", std::to_string(bad_epochs_)},
                                    {"cooldown_left", std::to_string(cooldown_left_)},
                                    {"reductions", std::to_string(reductions_)}});
  }
  void load_state(const ContainerReader& in, const std::string& prefix) override {
    std::int64_t bad = 0, cool = 0, red = 0;
    const std::string s = prefix + "state";
    if (!detail::parse_double(in.value(s, "best"), best_) ||
        !detail::parse_int64(in.value(s, "bad_epochs"), bad) ||
        !detail::parse_int64(in.value(s, "cooldown_left"), cool) ||
        !detail::parse_int64(in.value(s, "reductions"), red)) {
      in.fail("has a bad ReduceLROnPlateau state");
    }
    bad_epochs_ = static_cast<int>(bad);
    cooldown_left_ = static_cast<int>(cool);
    reductions_ = static_cast<int>(red);
  }

  int reductions() const { return reductions_; }

 private:
  std::string monitor_;
  double factor_;
  int patience_;
  double threshold_;
  int cooldown_;
  double min_scale_;
  bool minimize_;
  double best_;
  int bad_epochs_ = 0;
  int cooldown_left_ = 0;
  int reductions_ = 0;
};

}  // namespace mlp
