// BestCheckpoint keeps the parameters and BatchNorm buffers of the epoch with the best monitored
// metric (lowest val_loss by default), writes them to a model file each time they improve (atomic
// write: a crash never leaves a half-written best model), and at the end of training puts them back
// into the model, so whatever is evaluated next is the best model, not the last one.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/train/callback.hpp"

#include <filesystem>
#include <limits>

namespace mlp {

template <class S = float>
class BestCheckpoint final : public Callback<S> {
 public:
  // `path` may be empty: then the best state is kept in memory only. `metadata` goes into the file.
  BestCheckpoint(ParameterizedMLP<S>& model, std::filesystem::path path,
                 std::string monitor = "val_loss", MonitorMode mode = MonitorMode::Auto,
                 TextSection metadata = {})
      : model_(model), path_(std::move(path)), monitor_(std::move(monitor)),
        minimize_(monitor_minimizes(monitor_, mode)), metadata_(std::move(metadata)) {
    detail::require(is_known_metric(monitor_), "BestCheckpoint cannot monitor unknown metric '",
                    monitor_, "'");
    best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }

  std::string name() const override { return "best_checkpoint"; }

  void on_epoch_end(TrainContext<S>& ctx) override {
    const double value = ctx.log->get(monitor_);
    if (!(minimize_ ? value < best_ : value > best_)) return;
    best_ = value;
    best_epoch_ = ctx.log->epoch;
    best_state_ = model_.state_dict();
    if (!path_.empty()) {
      TextSection meta = metadata_;
      meta["epoch"] = std::to_string(best_epoch_);
      meta["monitor"] = monitor_;
      meta[monitor_] = detail::exact(best_);
      save_model(path_, model_, meta);
    }
  }

  void on_train_end(TrainContext<S>& /*ctx*/) override {
    if (!best_state_.empty()) {
      model_.load_state_dict(best_state_);
      restored_ = true;
    }
  }

  void save_state(ContainerWriter& out, const std::string& prefix) const override {
    out.add_text(prefix + "state", {{"best", detail::exact(best_)},
                                    {"best_epoch", std::to_string(best_epoch_)}});
    out.add_tensors(prefix + "best_state", best_state_);
  }
  void load_state(const ContainerReader& in, const std::string& prefix) override {
    std::int64_t epoch = 0;
    if (!detail::parse_double(in.value(prefix + "state", "best"), best_) ||
        !detail::parse_int64(in.value(prefix + "state", "best_epoch"), epoch)) {
      in.fail("has a bad best-checkpoint state");
    }
    best_epoch_ = static_cast<int>(epoch);
    StateDict<S> state = in.tensors<S>(prefix + "best_state");
    if (!state.empty()) {
      const StateDict<S> current = model_.state_dict();
      bool fits = state.size() == current.size();
      for (std::size_t i = 0; fits && i < state.size(); ++i) {
        fits = state[i].name == current[i].name && state[i].value.rows() == current[i].value.rows() &&
               state[i].value.cols() == current[i].value.cols();
      }
      if (!fits) in.fail("holds a best state that does not fit the model");
    }
    best_state_ = std::move(state);
  }

  int best_epoch() const { return best_epoch_; }  // 1-based; 0 if no epoch improved
  double best() const { return best_; }
  bool restored() const { return restored_; }     // the model holds the best state
  const StateDict<S>& best_state() const { return best_state_; }

 private:
  ParameterizedMLP<S>& model_;
  std::filesystem::path path_;
  std::string monitor_;
  bool minimize_;
  TextSection metadata_;
  double best_;
  int best_epoch_ = 0;
  StateDict<S> best_state_;
  bool restored_ = false;
};

}  // namespace mlp
