// Callbacks observe training through one context object and five hooks. They never drive the loop:
// a callback that wants training to end calls ctx.request_stop(reason) and the trainer acts on it
// after the hook returns. Callbacks that keep state (early stopping's patience counter, the best
// checkpoint) save it into training checkpoints so a resumed run behaves exactly like an
// uninterrupted one.
//
// What a callback reads and writes is declared, so that the trainer can check it when training
// begins: monitored_metrics() must be produced by the run (val_loss needs validation data), and a
// metric a callback logs with ctx.log_metric() in on_epoch_end is declared in logged_metrics() and
// logged by a callback added before the ones that monitor it, and before the loggers that write
// every metric of the epoch (writes_every_metric()).
#pragma once

#include "mlp/io/container.hpp"
#include "mlp/model/sequential.hpp"
#include "mlp/optim/optimizer.hpp"
#include "mlp/train/history.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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
  double lr_scale = 1.0;      // multiplies the schedule; callbacks may lower it (0 to 1)
  bool resumed = false;       // this fit continues a checkpoint
  const EpochLog* log = nullptr;  // the finished epoch, in on_epoch_end

  // In on_epoch_end: adds a metric of the callback's own to the finished epoch's log (the name
  // must be in the callback's logged_metrics()).
  void log_metric(const std::string& name, double value) {
    detail::require<RuntimeError>(epoch_log_ != nullptr, "ctx.log_metric('", name, "') can only be called in on_epoch_end");
    detail::require<RuntimeError>(declared_ != nullptr && contains(*declared_, name), "ctx.log_metric: metric '",
                                  name, "' is not declared in any callback's logged_metrics()");
    epoch_log_->custom[name] = value;
  }

  void request_stop(std::string reason) {
    if (!stop_) reason_ = std::move(reason);
    stop_ = true;
  }
  bool stop_requested() const { return stop_; }
  const std::string& stop_reason() const { return reason_; }

  // For the trainer: where log_metric writes, and what it may write.
  void open_epoch_log(EpochLog* log_entry, const std::vector<std::string>* declared) {
    epoch_log_ = log_entry;
    declared_ = declared;
    log = log_entry;
  }
  void close_epoch_log() { epoch_log_ = nullptr; }

 private:
  static bool contains(const std::vector<std::string>& names, const std::string& name) {
    for (const auto& n : names) {
      if (n == name) return true;
    }
    return false;
  }

  bool stop_ = false;
  std::string reason_;
  EpochLog* epoch_log_ = nullptr;
  const std::vector<std::string>* declared_ = nullptr;
};

template <class S = float>
class Callback {
 public:
  virtual ~Callback() = default;
  virtual std::string name() const = 0;  // unique among a trainer's callbacks (checkpoint key)

  // The metrics it reads from each epoch's log, and the ones it adds with ctx.log_metric().
  virtual std::vector<std::string> monitored_metrics() const { return {}; }
  virtual std::vector<std::string> logged_metrics() const { return {}; }
  // True for a logger that writes every metric of the epoch's log in its on_epoch_end (CsvLogger,
  // TensorBoardLogger): fit() then refuses a callback added after it that logs a metric, which it
  // would miss (the metric was left out of the last epoch's row without a word).
  virtual bool writes_every_metric() const { return false; }
  // The files it writes, so that fit() can refuse two writers of one file (a CsvLogger given the
  // best checkpoint's path overwrote the model with a CSV table).
  virtual std::vector<std::filesystem::path> written_files() const { return {}; }

  virtual void on_train_begin(TrainContext<S>& /*ctx*/) {}
  virtual void on_epoch_begin(TrainContext<S>& /*ctx*/) {}
  virtual void on_batch_end(TrainContext<S>& /*ctx*/) {}
  virtual void on_epoch_end(TrainContext<S>& /*ctx*/) {}
  virtual void on_train_end(TrainContext<S>& /*ctx*/) {}

  // Checkpoint support. A callback with state returns true from has_state(), writes sections
  // named `prefix` + anything, and reads them back, checking them against the history it resumes
  // into (a checkpoint is a file from disk). A checkpoint must hold the state of exactly the
  // stateful callbacks of the trainer that resumes it.
  virtual bool has_state() const { return false; }
  virtual void save_state(ContainerWriter& /*out*/, const std::string& /*prefix*/) const {}
  virtual void load_state(const ContainerReader& /*in*/, const std::string& /*prefix*/, const History& /*resumed*/) {}
};

}  // namespace mlp
