// Early stopping: ends training when the monitored metric has not improved (see monitor.hpp) for
// `patience` epochs in a row. It only asks; the trainer stops after the epoch's callbacks.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/train/callback.hpp"
#include "mlp/train/monitor.hpp"

#include <cmath>

namespace mlp {

template <class S = float>
class EarlyStopping final : public Callback<S> {
 public:
  explicit EarlyStopping(int patience, Monitor monitor = Monitor(metric::val_loss))
      : monitor_(std::move(monitor)), patience_(patience) {
    detail::require(patience >= 0, "early stopping patience has to be >= 0, but got ", patience);
  }

  std::string name() const override { return "early_stopping"; }
  std::vector<std::string> monitored_metrics() const override { return {monitor_.metric()}; }
  // A new run (no epoch logged yet) starts from no best: one EarlyStopping may serve runs one after another.
  void on_train_begin(TrainContext<S>& ctx) override {
    if (!ctx.history.epochs.empty()) return;
    monitor_.reset();
    wait_ = 0;
    stopped_epoch_ = 0;
  }

  void on_epoch_end(TrainContext<S>& ctx) override {
    const double value = monitor_.value_in(*ctx.log, name());
    if (monitor_.update(value, ctx.log->epoch)) {
      wait_ = 0;
      return;
    }
    if (++wait_ >= patience_) {
      stopped_epoch_ = ctx.log->epoch;
      ctx.request_stop(detail::concat("early stopping at epoch ", stopped_epoch_, ": ", monitor_.metric(),
                                      " did not improve on ", monitor_.best(), " (epoch ", monitor_.best_epoch(),
                                      ") for ", wait_, " epochs (patience ", patience_, ")",
                                      std::isnan(value) ? "; its last value was NaN, which never improves" : ""));
    }
  }

  bool has_state() const override { return true; }
  void save_state(ContainerWriter& out, const std::string& prefix) const override {
    TextSection t{{"wait", std::to_string(wait_)}, {"stopped_epoch", std::to_string(stopped_epoch_)}};
    monitor_.save(t);
    out.add_text(prefix + "state", t);
  }
  void load_state(const ContainerReader& in, const std::string& prefix, const History& resumed) override {
    const std::string section = prefix + "state";
    const auto done = static_cast<std::int64_t>(resumed.epochs.size());
    monitor_.load(in, section, resumed);
    std::int64_t wait = 0, stopped = 0;
    if (!detail::parse_int64(in.value(section, "wait"), wait) || wait < 0 || wait > done ||
        !detail::parse_int64(in.value(section, "stopped_epoch"), stopped) || stopped < 0 || stopped > done) {
      in.fail("has a bad early stopping state (", done, " epochs done)");
    }
    wait_ = static_cast<int>(wait);
    stopped_epoch_ = static_cast<int>(stopped);
  }

  int stopped_epoch() const { return stopped_epoch_; }  // 0 if it never stopped training
  int best_epoch() const { return monitor_.best_epoch(); }
  double best() const { return monitor_.best(); }
  int patience() const { return patience_; }
  const Monitor& monitor() const { return monitor_; }

 private:
  Monitor monitor_;
  int patience_;
  int wait_ = 0;
  int stopped_epoch_ = 0;
};

}  // namespace mlp
