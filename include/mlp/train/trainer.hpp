// The training loop. One step, in one direction (see docs/design.md):
//   lr = lr_scale * schedule.lr_at(step); optimizer.set_lr(lr)   the only writer of the LR
//   logits = model.forward(x, Train); loss = CE(logits, y) (+ L1/L2 penalty, logged apart)
//   model.backward(dCE/dlogits); penalty gradients added;  optimizer.step()
// A non-finite loss stops training before the optimizer touches the weights. After every epoch:
// validation in Eval mode, the epoch's log, the callbacks, then (optionally) a training checkpoint
// from which resume() continues bit for bit, even from the middle of an epoch.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/data/dataloader.hpp"
#include "mlp/detail/float_mode.hpp"
#include "mlp/io/container.hpp"
#include "mlp/io/model_file.hpp"
#include "mlp/losses/regularization.hpp"
#include "mlp/losses/softmax_cross_entropy.hpp"
#include "mlp/optim/schedulers.hpp"
#include "mlp/train/callback.hpp"
#include "mlp/train/evaluate.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace mlp {

struct TrainerOptions {
  WeightPenalty penalty;             // L1 / L2 on weights, added to the optimized loss
  double label_smoothing = 0.0;      // of the training loss; evaluation uses plain cross-entropy
  std::filesystem::path checkpoint;  // written after every epoch when not empty
  // Flush subnormal floats to zero during each step (x86 FTZ/DAZ; see detail/float_mode.hpp).
  bool flush_denormals = true;
};

struct StepResult {
  double loss = 0.0;     // data loss of the batch (mean)
  double penalty = 0.0;  // L1/L2 penalty at the step (0 when inactive)
  Index correct = 0;     // argmax hits in the batch (Train mode)
  double lr = 0.0;       // learning rate used
  bool finite = true;    // false: the loss was NaN or infinite and nothing was updated
};

template <class S = float>
class Trainer {
 public:
  Trainer(Sequential<S>& model, Optimizer<S>& optimizer, const Schedule& schedule,
          TrainerOptions options = {})
      : model_(model), optimizer_(optimizer), schedule_(schedule), options_(std::move(options)),
        train_loss_(options_.label_smoothing), params_(model.parameters()),
        buffers_(model.buffers()) {
    options_.penalty.validate();
    for (const auto& b : buffers_) buffer_backup_.emplace_back(b.rows, b.cols);
  }

  // Callbacks are not owned and must outlive fit(). Their names must be unique.
  void add_callback(Callback<S>& callback) {
    for (const auto* c : callbacks_) {
      detail::require(c->name() != callback.name(), "a callback named '", callback.name(),
                      "' is already registered");
    }
    callbacks_.push_back(&callback);
  }

  // Stops training after the current step when *flag becomes true (e.g. from a SIGINT handler);
  // with a checkpoint path set, a checkpoint of that exact point is written first.
  void set_interrupt_flag(const std::atomic<bool>* flag) { interrupt_ = flag; }
  // Stored in every checkpoint's "extra" section (e.g. the run's configuration).
  void set_checkpoint_extra(TextSection extra) { extra_ = std::move(extra); }

  // One optimizer step on one batch. When the loss is not finite, nothing changes: no update,
  // and the buffers (BatchNorm running statistics) that the forward pass moved are put back.
  StepResult train_step(const Batch<S>& batch) {
    const detail::FlushDenormals flush(options_.flush_denormals);
    StepResult r;
    r.lr = lr_scale_ * schedule_.lr_at(step_);
    optimizer_.set_lr(r.lr);
    for (std::size_t i = 0; i < buffers_.size(); ++i) buffer_backup_[i] = buffers_[i].value_map();
    const Matrix<S>& logits = model_.forward(batch.x, Mode::Train);
    r.loss = static_cast<double>(train_loss_.forward(logits, batch.y));
    if (options_.penalty.active()) r.penalty = options_.penalty.value(params_);
    if (!std::isfinite(r.loss) || !std::isfinite(r.penalty)) {
      for (std::size_t i = 0; i < buffers_.size(); ++i) buffers_[i].value_map() = buffer_backup_[i];
      r.finite = false;
      return r;
    }
    r.correct = count_correct(logits, batch.y);
    model_.backward(train_loss_.backward());
    if (options_.penalty.active()) options_.penalty.add_gradient(params_);
    optimizer_.step();
    ++step_;
    return r;
  }

  // Mean cross-entropy, accuracy and confusion matrix over a loader, in Eval mode.
  EvalResult evaluate(DataLoader<S>& loader) { return mlp::evaluate(model_, loader); }

  // Trains until `epochs` epochs are done (counting those of a resumed checkpoint) or a callback,
  // a non-finite loss or an interrupt stops it. `val` may be null (no validation metrics).
  History fit(DataLoader<S>& train, DataLoader<S>* val, int epochs) {
    detail::require(epochs >= 0, "epochs has to be >= 0, but got ", epochs);
    TrainContext<S> ctx{model_, optimizer_, history_};
    ctx.epochs = epochs;
    ctx.batches = train.batches_per_epoch();
    ctx.lr_scale = lr_scale_;
    ctx.resumed = resumed_;
    ctx.step = step_;
    for (auto* c : callbacks_) c->on_train_begin(ctx);
    if (finished_) ctx.request_stop(history_.stop_reason);
    while (epoch_ < epochs && !ctx.stop_requested()) {
      ctx.epoch = epoch_;
      if (batch_in_epoch_ == 0) {
        acc_ = {};
        for (auto* c : callbacks_) c->on_epoch_begin(ctx);
      }
      if (!run_batches(train, ctx)) break;  // diverged or interrupted
      finish_epoch(val, ctx);
      if (history_.diverged) break;
      for (auto* c : callbacks_) c->on_epoch_end(ctx);
      lr_scale_ = ctx.lr_scale;
      if (ctx.stop_requested()) {
        finished_ = true;
        history_.stopped_early = epoch_ < epochs;
        history_.stop_reason = ctx.stop_reason();
      }
      if (!options_.checkpoint.empty()) save_checkpoint(options_.checkpoint);
    }
    if (history_.stop_reason.empty()) {
      history_.stop_reason = detail::concat("completed ", epoch_, " epochs");
    }
    for (auto* c : callbacks_) c->on_train_end(ctx);
    return history_;
  }

  // Everything needed to continue exactly: model state and generator states, optimizer state,
  // position (epoch, batch), the epoch's running sums, history, callback states and `extra`.
  void save_checkpoint(const std::filesystem::path& path) const {
    ContainerWriter out;
    out.add_text("trainer", trainer_text());
    out.add_tensors("state", model_.state_dict());
    out.add_tensors("optimizer", optimizer_.state_dict());
    out.add_text("history", history_text());
    for (auto* c : callbacks_) c->save_state(out, "callback." + c->name() + ".");
    out.add_text("extra", extra_);
    out.write(path, kCheckpointMagic, kModelFormatVersion);
  }

  // Restores a checkpoint written by save_checkpoint for the same model, optimizer and callbacks.
  // Returns its "extra" section. Call before fit().
  TextSection resume(const std::filesystem::path& path) {
    const auto in = ContainerReader::open(path, kCheckpointMagic, kModelFormatVersion,
                                          "an mlp training checkpoint", mlp_file_kinds());
    if (in.value("trainer", "optimizer") != optimizer_.name()) {
      in.fail("was written with optimizer ", in.value("trainer", "optimizer"), ", not ",
              optimizer_.name());
    }
    detail::load_state_from(in, model_, "state");
    try {
      optimizer_.load_state_dict(in.tensors<S>("optimizer"), read_int(in, "optimizer_steps"));
      std::vector<std::uint64_t> states;
      for (const auto& s : detail::split(in.value("trainer", "random_states"), ',')) {
        std::uint64_t v = 0;
        if (!detail::parse_uint64(s, v)) in.fail("has a bad random state '", s, "'");
        states.push_back(v);
      }
      model_.set_random_states(states);
    } catch (const InvalidArgument& e) {
      in.fail("does not fit this training setup: ", e.what());
    }
    const std::int64_t epoch = read_int(in, "epoch");
    if (epoch < 0 || epoch > kMaxEpochs) in.fail("has a bad epoch ", epoch);
    epoch_ = static_cast<int>(epoch);
    batch_in_epoch_ = read_int(in, "batch_in_epoch");
    step_ = read_int(in, "step");
    if (batch_in_epoch_ < 0 || step_ < 0) in.fail("has a negative position (batch ", batch_in_epoch_, ", step ", step_, ")");
    lr_scale_ = read_real(in, "lr_scale");
    acc_.loss = read_real(in, "acc_loss");
    acc_.penalty = read_real(in, "acc_penalty");
    acc_.seconds = read_real(in, "acc_seconds");
    acc_.correct = read_int(in, "acc_correct");
    acc_.samples = read_int(in, "acc_samples");
    acc_.steps = read_int(in, "acc_steps");
    finished_ = read_int(in, "finished") != 0;
    read_history(in);
    if (!finished_) history_.stop_reason.clear();  // e.g. "interrupted ...": training goes on
    for (auto* c : callbacks_) c->load_state(in, "callback." + c->name() + ".");
    resumed_ = true;
    return in.text("extra");
  }

  const History& history() const { return history_; }
  int epochs_done() const { return epoch_; }
  std::int64_t step() const { return step_; }
  const TrainerOptions& options() const { return options_; }

 private:
  struct EpochSums {
    double loss = 0.0, penalty = 0.0, seconds = 0.0;
    Index correct = 0, samples = 0, steps = 0;
  };

  // Runs the rest of the current epoch's batches. False when training must end now.
  bool run_batches(DataLoader<S>& train, TrainContext<S>& ctx) {
    const auto start = std::chrono::steady_clock::now();
    train.start_epoch(epoch_);
    train.skip_batches(batch_in_epoch_);
    while (auto batch = train.next()) {
      const StepResult r = train_step(*batch);
      if (!r.finite) {
        history_.diverged = true;
        history_.stop_reason = detail::concat(
            "non-finite training loss (", detail::number_text(r.loss), ", penalty ",
            detail::number_text(r.penalty), ") at step ", step_ + 1,
            " (epoch ", epoch_ + 1, ", batch ", batch_in_epoch_ + 1, "); this step changed "
            "nothing in the model", non_finite_parameter_note(), "; try a lower learning rate");
        return false;
      }
      acc_.loss += r.loss * static_cast<double>(batch->size());
      acc_.penalty += r.penalty;
      acc_.correct += r.correct;
      acc_.samples += batch->size();
      ++acc_.steps;
      ++batch_in_epoch_;
      ctx.step = step_;
      ctx.batch = batch_in_epoch_;
      ctx.batch_loss = r.loss;
      ctx.running_loss = acc_.loss / static_cast<double>(acc_.samples);
      ctx.epoch_samples = acc_.samples;
      ctx.lr = r.lr;
      for (auto* c : callbacks_) c->on_batch_end(ctx);
      if (interrupt_ != nullptr && interrupt_->load()) {
        acc_.seconds += seconds_since(start);
        history_.interrupted = true;
        history_.stop_reason = detail::concat("interrupted after step ", step_, " (epoch ",
                                              epoch_ + 1, ", batch ", batch_in_epoch_, ")");
        if (!options_.checkpoint.empty()) save_checkpoint(options_.checkpoint);
        return false;
      }
      if (ctx.stop_requested()) break;
    }
    acc_.seconds += seconds_since(start);
    return true;
  }

  void finish_epoch(DataLoader<S>* val, TrainContext<S>& ctx) {
    const auto start = std::chrono::steady_clock::now();
    EpochLog log;
    log.epoch = epoch_ + 1;
    const double n = static_cast<double>(std::max<Index>(acc_.samples, 1));
    log.train_loss = acc_.loss / n;
    log.train_acc = static_cast<double>(acc_.correct) / n;
    log.penalty = acc_.steps > 0 ? acc_.penalty / static_cast<double>(acc_.steps) : 0.0;
    log.lr = optimizer_.lr();
    log.steps = step_;
    if (val != nullptr) {
      const EvalResult v = evaluate(*val);
      log.val_loss = v.loss;
      log.val_acc = v.accuracy;
      if (!std::isfinite(v.loss)) {
        history_.diverged = true;
        history_.stop_reason = detail::concat("non-finite validation loss (", detail::number_text(v.loss),
                                              ") after epoch ", epoch_ + 1,
                                              non_finite_parameter_note());
      }
    }
    log.seconds = acc_.seconds + seconds_since(start);
    history_.epochs.push_back(log);
    ctx.log = &history_.epochs.back();
    ++epoch_;
    batch_in_epoch_ = 0;
  }

  // Where the non-finite values are, for divergence messages: the first parameter tensor holding
  // one, and the first layer whose output in the failed forward pass did.
  std::string non_finite_parameter_note() const {
    std::string note = "; all parameters are still finite";
    for (const auto& p : params_) {
      if (!p.value_map().allFinite()) {
        note = "; the first parameter with non-finite values is " + p.name;
        break;
      }
    }
    const int layer = model_.first_non_finite_output();
    if (layer >= 0) {
      note += detail::concat("; the first non-finite output came from layer ", layer, " (",
                             model_[static_cast<std::size_t>(layer)].describe(), ")");
    }
    return note;
  }

  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  TextSection trainer_text() const {
    return {{"epoch", std::to_string(epoch_)},
            {"batch_in_epoch", std::to_string(batch_in_epoch_)},
            {"step", std::to_string(step_)},
            {"lr_scale", detail::exact(lr_scale_)},
            {"optimizer", std::string(optimizer_.name())},
            {"optimizer_steps", std::to_string(optimizer_.steps())},
            {"random_states", detail::join(model_.random_states())},
            {"acc_loss", detail::exact(acc_.loss)},
            {"acc_penalty", detail::exact(acc_.penalty)},
            {"acc_seconds", detail::exact(acc_.seconds)},
            {"acc_correct", std::to_string(acc_.correct)},
            {"acc_samples", std::to_string(acc_.samples)},
            {"acc_steps", std::to_string(acc_.steps)},
            {"finished", finished_ ? "1" : "0"}};
  }

  TextSection history_text() const {
    TextSection t{{"count", std::to_string(history_.epochs.size())},
                  {"stop_reason", history_.stop_reason},
                  {"stopped_early", history_.stopped_early ? "1" : "0"}};
    for (std::size_t i = 0; i < history_.epochs.size(); ++i) {
      const EpochLog& e = history_.epochs[i];
      t[detail::concat("epoch.", i)] = detail::join(std::vector<double>{
          static_cast<double>(e.epoch), e.train_loss, e.train_acc, e.penalty, e.val_loss, e.val_acc,
          e.lr, e.seconds, static_cast<double>(e.steps)});
    }
    return t;
  }

  void read_history(const ContainerReader& in) {
    History h;
    std::int64_t count = 0;
    if (!detail::parse_int64(in.value("history", "count"), count) || count < 0) {
      in.fail("has a bad history count");
    }
    for (std::int64_t i = 0; i < count; ++i) {
      const auto fields = detail::split(in.value("history", detail::concat("epoch.", i)), ',');
      std::vector<double> v(fields.size());
      for (std::size_t k = 0; k < fields.size(); ++k) {
        if (!detail::parse_double(fields[k], v[k])) in.fail("has a bad history entry ", i);
      }
      if (v.size() != 9) in.fail("has a history entry with ", v.size(), " fields instead of 9");
      const bool in_range = v[0] >= 1 && v[0] <= static_cast<double>(kMaxEpochs) && v[8] >= 0 &&
                            v[8] <= static_cast<double>(kMaxSteps);
      if (!in_range) in.fail("has a bad history entry ", i);
      h.epochs.push_back({static_cast<int>(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                          static_cast<std::int64_t>(v[8])});
    }
    h.stop_reason = in.value("history", "stop_reason");
    h.stopped_early = in.value("history", "stopped_early") == "1";
    history_ = std::move(h);
  }

  static std::int64_t read_int(const ContainerReader& in, const std::string& key) {
    std::int64_t v = 0;
    if (!detail::parse_int64(in.value("trainer", key), v)) in.fail("has a bad trainer entry ", key);
    return v;
  }
  static double read_real(const ContainerReader& in, const std::string& key) {
    double v = 0;
    if (!detail::parse_double(in.value("trainer", key), v)) in.fail("has a bad trainer entry ", key);
    return v;
  }

  Sequential<S>& model_;
  Optimizer<S>& optimizer_;
  const Schedule& schedule_;
  TrainerOptions options_;
  SoftmaxCrossEntropy<S> train_loss_;
  std::vector<TensorRef<S>> params_;
  std::vector<TensorRef<S>> buffers_;     // running statistics, restored after a non-finite step
  std::vector<Matrix<S>> buffer_backup_;  // their values before the step's forward pass
  std::vector<Callback<S>*> callbacks_;
  const std::atomic<bool>* interrupt_ = nullptr;
  TextSection extra_;
  History history_;
  EpochSums acc_;
  int epoch_ = 0;               // epochs completed
  Index batch_in_epoch_ = 0;    // batches completed in the current epoch
  std::int64_t step_ = 0;       // optimizer steps done
  double lr_scale_ = 1.0;
  bool resumed_ = false;
  bool finished_ = false;       // a callback ended training (saved, so a resume ends too)
};

}  // namespace mlp
