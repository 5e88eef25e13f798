// ReduceLROnPlateau, PyTorch's semantics as a callback: when the monitored metric has not improved
// (by default relatively, PyTorch's threshold 1e-4 in mode "rel") for more than `patience` epochs,
// the trainer's lr_scale is multiplied by `factor` (never below min_scale), then `cooldown` epochs
// pass before counting again. As in PyTorch, a cut that would lower the rate (of the epoch's last
// step) by `eps` or less is not made; the cooldown starts all the same. (That rate is taken at the
// lr_scale the epoch ran with: a callback before this one that lowers lr_scale in on_epoch_end makes
// the cut look larger than it is.) Schedules stay pure functions of time: this only scales them.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/train/callback.hpp"
#include "mlp/train/monitor.hpp"

#include <algorithm>
#include <cmath>

namespace mlp {

struct ReduceLROnPlateauOptions {
  // PyTorch's threshold (1e-4, relative) is this monitor's: one of your own carries its own, e.g.
  // Monitor(metric::val_acc, MonitorMode::Auto, 1e-4, true) for PyTorch's (Monitor's defaults: 0, absolute).
  Monitor monitor{metric::val_loss, MonitorMode::Auto, 1e-4, /*relative=*/true};
  double factor = 0.1;
  int patience = 10;
  int cooldown = 0;
  double min_scale = 0.0;  // lr_scale never goes below this
  double eps = 1e-8;       // PyTorch's: a cut that would lower the rate by eps or less is skipped
};

template <class S = float>
class ReduceLROnPlateau final : public Callback<S> {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {}) : o_(std::move(options)) {
    detail::require(o_.factor > 0.0 && o_.factor < 1.0, "ReduceLROnPlateau factor has to be in (0, 1), but got ", o_.factor);
    detail::require(o_.patience >= 0 && o_.cooldown >= 0 && o_.min_scale >= 0.0 && o_.min_scale <= 1.0,
                    "ReduceLROnPlateau needs patience and cooldown >= 0 and min_scale from 0 to 1");
    detail::require(o_.eps >= 0.0 && std::isfinite(o_.eps), "ReduceLROnPlateau eps has to be finite and >= 0, but got ",
                    o_.eps);
  }

  std::string name() const override { return "reduce_lr_on_plateau"; }
  std::vector<std::string> monitored_metrics() const override { return {o_.monitor.metric()}; }
  // A new run (no epoch logged yet) starts from no best and no reduction (its Trainer's lr_scale is 1).
  void on_train_begin(TrainContext<S>& ctx) override {
    if (!ctx.history.epochs.empty()) return;
    o_.monitor.reset();
    bad_epochs_ = cooldown_left_ = reductions_ = 0;
  }

  void on_epoch_end(TrainContext<S>& ctx) override {
    if (o_.monitor.update(o_.monitor.value_in(*ctx.log, name()), ctx.log->epoch)) {
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_epochs_ = 0;
    }
    if (bad_epochs_ > o_.patience) {
      const double scale = std::max(ctx.lr_scale * o_.factor, o_.min_scale);
      if (ctx.lr_scale > 0.0 && ctx.lr - ctx.lr * (scale / ctx.lr_scale) > o_.eps) {
        ctx.lr_scale = scale;
        ++reductions_;
      }
      cooldown_left_ = o_.cooldown;
      bad_epochs_ = 0;
    }
  }

  bool has_state() const override { return true; }
  void save_state(ContainerWriter& out, const std::string& prefix) const override {
    TextSection t{{"bad_epochs", std::to_string(bad_epochs_)},
                  {"cooldown_left", std::to_string(cooldown_left_)},
                  {"reductions", std::to_string(reductions_)}};
    o_.monitor.save(t);
    out.add_text(prefix + "state", t);
  }
  void load_state(const ContainerReader& in, const std::string& prefix, const History& resumed) override {
    const std::string s = prefix + "state";
    const auto done = static_cast<std::int64_t>(resumed.epochs.size());
    o_.monitor.load(in, s, resumed);
    std::int64_t bad = 0, cool = 0, red = 0;
    if (!detail::parse_int64(in.value(s, "bad_epochs"), bad) || bad < 0 || bad > done ||
        !detail::parse_int64(in.value(s, "cooldown_left"), cool) || cool < 0 || cool > o_.cooldown ||
        !detail::parse_int64(in.value(s, "reductions"), red) || red < 0 || red > done) {
      in.fail("has a bad ReduceLROnPlateau state (", done, " epochs done)");
    }
    bad_epochs_ = static_cast<int>(bad);
    cooldown_left_ = static_cast<int>(cool);
    reductions_ = static_cast<int>(red);
  }

  int reductions() const { return reductions_; }  // the cuts made (a cut skipped for eps does not count)

 private:
  ReduceLROnPlateauOptions o_;
  int bad_epochs_ = 0;
  int cooldown_left_ = 0;
  int reductions_ = 0;
};

}  // namespace mlp
