// BestCheckpoint keeps the parameters and buffers of the epoch with the best monitored metric
// (lowest val_loss by default), writes them to a model file each time they improve (atomic write:
// a crash never leaves a half-written best model), and at the end of training puts them back into
// the model, so whatever is evaluated next is the best model, not the last one. Any Sequential.
// A next fit() of the same run (more epochs) first puts the last epoch's state back (unless the
// model was changed since), so that it goes on from where training stopped, as a run resumed from
// the Trainer's end-of-epoch checkpoint does; a new run (no epoch logged yet)
// starts from no best, so one BestCheckpoint may serve runs one after another.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/train/callback.hpp"
#include "mlp/train/monitor.hpp"

#include <cstring>
#include <filesystem>

namespace mlp {

template <class S = float>
class BestCheckpoint final : public Callback<S> {
 public:
  // `path` may be empty: then the best state is kept in memory only. `metadata` goes into the file.
  explicit BestCheckpoint(Sequential<S>& model, std::filesystem::path path = {},
                          Monitor monitor = Monitor(metric::val_loss), TextSection metadata = {})
      : model_(model), path_(std::move(path)), monitor_(std::move(monitor)), metadata_(std::move(metadata)) {}

  std::string name() const override { return "best_checkpoint"; }
  std::vector<std::string> monitored_metrics() const override { return {monitor_.metric()}; }
  std::vector<std::filesystem::path> written_files() const override {
    if (path_.empty()) return {};
    return {path_};
  }

  // A model that cannot be saved fails before training, not at the first improvement an epoch later.
  void on_train_begin(TrainContext<S>& ctx) override {
    // (it saved the other model, with the trained one's metric in the file's metadata)
    detail::require(&model_ == &ctx.model, "BestCheckpoint was made for another model than the Trainer trains; make it ",
                    "with the Trainer's model");
    if (!path_.empty()) detail::check_registered(model_, path_);
    if (ctx.history.epochs.empty()) {  // (the last run's best was put into this run's model)
      monitor_.reset();
      best_state_.clear();
      last_state_.clear();
      restored_ = false;
    } else if (restored_ && !last_state_.empty()) {  // (fit(2) then fit(4) went on from epoch 1's weights)
      if (model_holds(best_state_)) model_.load_state_dict(last_state_);  // (else the user's changes stand)
      last_state_.clear();
      restored_ = false;
    }
  }

  void on_epoch_end(TrainContext<S>& ctx) override {
    if (!monitor_.update(monitor_.value_in(*ctx.log, name()), ctx.log->epoch)) return;
    best_state_ = model_.state_dict();
    if (!path_.empty()) {
      TextSection meta = metadata_;
      meta["epoch"] = std::to_string(monitor_.best_epoch());
      meta["monitor"] = monitor_.metric();
      meta[monitor_.metric()] = detail::exact(monitor_.best());
      save_model(path_, model_, meta);
    }
  }

  void on_train_end(TrainContext<S>& /*ctx*/) override {
    if (!best_state_.empty()) {
      last_state_ = model_.state_dict();
      model_.load_state_dict(best_state_);
      restored_ = true;
    }
  }

  bool has_state() const override { return true; }
  void save_state(ContainerWriter& out, const std::string& prefix) const override {
    TextSection t;
    monitor_.save(t);
    out.add_text(prefix + "state", t);
    out.add_tensors(prefix + "best_state", best_state_);
  }
  // The monitor's best as Monitor::load checks it, and the best state shaped like the model's.
  void load_state(const ContainerReader& in, const std::string& prefix, const History& resumed) override {
    monitor_.load(in, prefix + "state", resumed);
    StateDict<S> state = in.tensors<S>(prefix + "best_state");
    const int best = monitor_.best_epoch();
    if (state.empty() != (best == 0)) in.fail("holds a best-checkpoint state that does not match its best epoch ", best);
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
    last_state_.clear();  // (the model holds the checkpoint's state)
    restored_ = false;
  }

  int best_epoch() const { return monitor_.best_epoch(); }  // 1-based; 0 if no epoch improved
  double best() const { return monitor_.best(); }
  bool restored() const { return restored_; }  // the model holds the best state
  const StateDict<S>& best_state() const { return best_state_; }
  const Monitor& monitor() const { return monitor_; }

 private:
  // The model's parameters and buffers are `state`, bit for bit.
  bool model_holds(const StateDict<S>& state) const {
    const StateDict<S> now = model_.state_dict();
    if (now.size() != state.size()) return false;
    for (std::size_t i = 0; i < now.size(); ++i) {
      const Matrix<S>& a = now[i].value;
      const Matrix<S>& b = state[i].value;
      if (now[i].name != state[i].name || a.rows() != b.rows() || a.cols() != b.cols() ||
          std::memcmp(a.data(), b.data(), sizeof(S) * static_cast<std::size_t>(a.size())) != 0) {
        return false;
      }
    }
    return true;
  }

  Sequential<S>& model_;
  std::filesystem::path path_;
  Monitor monitor_;
  TextSection metadata_;
  StateDict<S> best_state_;
  StateDict<S> last_state_;  // the model's when on_train_end put the best in, for a next fit()
  bool restored_ = false;
};

}  // namespace mlp
