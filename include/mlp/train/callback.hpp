// Callbacks observe training through one context object and five hooks. They never drive the loop:
// a callback that wants training to end calls ctx.request_stop(reason) and the trainer acts on it
// after the hook returns. Callbacks that keep state (early stopping's patience counter, the best
// checkpoint) save it into training checkpoints so a resumed run behaves exactly like an
// uninterrupted one.
#pragma once

#include "mlp/io/container.hpp"
#include "mlp/model/sequential.hpp"
#include "mlp/optim/optimizer.hpp"
#include "mlp/train/history.hpp"

#include <cstdint>
#include <string>

namespace mlp {

template <class S = float>
struct TrainContext {
  TrainContext(Sequential<S>& m, Optimizer<S>& o, History& h) : model(m), optimizer(o), history(h) {}

  Sequential<S>& model;
  Optimizer<S>& optimizer;
  History& history;
  int epoch = 0;              // 0-based epoch in progress (just finished, in on_epoch_end)
  int epochs = 0;             // epochs this fit runs to
  std::int64_t step = 0;      // optimizer steps done
  Index batch = 0;            // batches done in this epoch
  Index batches = 0;          // batches per epoch
  Index epoch_samples = 0;    // training samples seen in this epoch
  double batch_loss = 0.0;    // data loss of the last batch
  double running_loss = 0.0;  // mean data loss of the epoch so far
  double lr = 0.0;            // learning rate of the last step
  double lr_scale = 1.0;      // multiplies the schedule; callbacks may lower it
  bool resumed = false;       // this fit continues a checkpoint
  const EpochLog* log = nullptr;  // the finished epoch, in on_epoch_end

  void request_stop(std::string reason) {
    if (!stop_) reason_ = std::move(reason);
    stop_ = true;
  }
  bool stop_requested() const { return stop_; }
  const std::string& stop_reason() const { return reason_; }
  void clear_stop() {
    stop_ = false;
    reason_.clear();
  }

 private:
  bool stop_ = false;
  std::string reason_;
};

template <class S = float>
class Callback {
 public:
  virtual ~Callback() = default;
  virtual std::string name() const = 0;  // unique among a trainer's callbacks (checkpoint key)

  virtual void on_train_begin(TrainContext<S>& /*ctx*/) {}
  virtual void on_epoch_begin(TrainContext<S>& /*ctx*/) {}
  virtual void on_batch_end(TrainContext<S>& /*ctx*/) {}
  virtual void on_epoch_end(TrainContext<S>& /*ctx*/) {}
  virtual void on_train_end(TrainContext<S>& /*ctx*/) {}

  // Checkpoint support: write sections named `prefix` + anything, read them back.
  virtual void save_state(ContainerWriter& /*out*/, const std::string& /*prefix*/) const {}
  virtual void load_state(const ContainerReader& /*in*/, const std::string& /*prefix*/) {}
};

// "lower is better" for losses, "higher is better" for accuracies, unless said otherwise.
enum class MonitorMode { Auto, Min, Max };

inline bool monitor_minimizes(const std::string& metric, MonitorMode mode) {
  if (mode == MonitorMode::Min) return true;
  if (mode == MonitorMode::Max) return false;
  return metric.find("acc") == std::string::npos;
}

}  // namespace mlp
