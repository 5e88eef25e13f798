// Early stopping: ends training when the monitored metric has not improved by more than min_delta
// for `patience` epochs in a row. It only asks; the trainer stops after the epoch's callbacks.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/train/callback.hpp"

#include <cmath>
#include <limits>

namespace mlp {

template <class S = float>
class EarlyStopping final : public Callback<S> {
 public:
  explicit EarlyStopping(int patience, std::string monitor = "val_loss", double min_delta = 0.0,
                         MonitorMode mode = MonitorMode::Auto)
      : monitor_(std::move(monitor)), patience_(patience), min_delta_(min_delta),
        minimize_(monitor_minimizes(monitor_, mode)) {
    detail::require(patience >= 0, "early stopping patience has to be >= 0, but got ", patience);
    detail::require(min_delta >= 0.0, "early stopping min_delta has to be >= 0, but got ", min_delta);
    detail::require(is_known_metric(monitor_), "early stopping cannot monitor unknown metric '",
                    monitor_, "'");
    best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }

  std::string name() const override { return "early_stopping"; }

  void on_epoch_end(TrainContext<S>& ctx) override {
    const double value = ctx.log->get(monitor_);
    const bool improved = minimize_ ? value < best_ - min_delta_ : value > best_ + min_delta_;
    if (improved) {  // NaN never improves
      best_ = value;
      best_epoch_ = ctx.log->epoch;
      wait_ = 0;
      return;
    }
    if (++wait_ >= patience_) {
      stopped_epoch_ = ctx.log->epoch;
      ctx.request_stop(detail::concat("early stopping at epoch ", stopped_epoch_, ": ", monitor_,
                                      " did not improve on ", best_, " (epoch ", best_epoch_,
                                      ") for ", wait_, " epochs (patience ", patience_, ")"));
    }
  }

  void save_state(ContainerWriter& out, const std::string& prefix) const override {
    out.add_text(prefix + "state", {{"best", detail::exact(best_)},
                                    {"best_epoch", std::to_string(best_epoch_)},
                                    {"wait", std::to_string(wait_)},
                                    {"stopped_epoch", std::to_string(stopped_epoch_)}});
  }
  void load_state(const ContainerReader& in, const std::string& prefix) override {
    const std::string section = prefix + "state";
    std::int64_t best_epoch = 0, wait = 0, stopped = 0;
    if (!detail::parse_double(in.value(section, "best"), best_) ||
        !detail::parse_int64(in.value(section, "best_epoch"), best_epoch) ||
        !detail::parse_int64(in.value(section, "wait"), wait) ||
        !detail::parse_int64(in.value(section, "stopped_epoch"), stopped)) {
      in.fail("has a bad early stopping state");
    }
    best_epoch_ = static_cast<int>(best_epoch);
    wait_ = static_cast<int>(wait);
    stopped_epoch_ = static_cast<int>(stopped);
  }

  int stopped_epoch() const { return stopped_epoch_; }  // 0 if it never stopped training
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }
  int patience() const { return patience_; }

 private:
  std::string monitor_;
  int patience_;
  double min_delta_;
  bool minimize_;
  double best_;
  int best_epoch_ = 0;
  int wait_ = 0;
  int stopped_epoch_ = 0;
};

}  // namespace mlp
