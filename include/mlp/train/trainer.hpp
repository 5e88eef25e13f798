// The training loop, for any Sequential. One step, in one direction (see docs/design.md):
//   lr = lr_scale * schedule.lr_at(t, optimizer.base_lr()), written into the optimizer (the only writer)
//   logits = model.forward(x, Train); loss = CE(logits, y) (+ L1/L2 penalty, logged apart)
//   model.backward(dCE/dlogits); penalty gradients added;  optimizer.step()
// A non-finite loss stops training before the optimizer touches the weights. After every epoch:
// validation in Eval mode (with the user's Metrics), the epoch's log, the callbacks, then
// (optionally) a training checkpoint from which resume() continues bit for bit, even from the
// middle of an epoch.
#pragma once

#include "mlp/core/threads.hpp"
#include "mlp/data/dataloader.hpp"
#include "mlp/detail/float_mode.hpp"
#include "mlp/losses/regularization.hpp"
#include "mlp/losses/softmax_cross_entropy.hpp"
#include "mlp/optim/schedulers.hpp"
#include "mlp/train/callback.hpp"
#include "mlp/train/evaluate.hpp"
#include "mlp/train/metric.hpp"
#include "mlp/train/thread_governor.hpp"
#include "mlp/train/trainer_checkpoint.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlp {

struct TrainerOptions {
  WeightPenalty penalty;             // L1 / L2 on weights, added to the optimized loss
  double label_smoothing = 0.0;      // of the optimized loss; every logged loss is plain cross-entropy
  std::filesystem::path checkpoint;  // written after every epoch when not empty
  // Flush subnormal floats to zero during each step (x86 FTZ/DAZ; see detail/float_mode.hpp).
  bool flush_denormals = true;
  // Run a step on fewer threads than thread_count() while that is faster, e.g. while another
  // process keeps a core busy (train/thread_governor.hpp). The results are the same bits either way.
  bool adapt_threads = true;
};

struct StepResult {
  double loss = 0.0;       // the optimized data loss of the batch (with label smoothing, if any)
  double plain_loss = 0.0; // its plain cross-entropy
  double penalty = 0.0;    // L1/L2 penalty at the step (0 when inactive)
  Index correct = 0;       // argmax hits in the batch (Train mode)
  double lr = 0.0;         // learning rate used
  bool finite = true;      // false: the loss was NaN or infinite and nothing was updated
};

template <class S = float>
class Trainer {
 public:
  // Trains at the optimizer's base rate (no schedule). The schedule, when given, is copied.
  Trainer(Sequential<S>& model, Optimizer<S>& optimizer, TrainerOptions options = {})
      : model_(model), optimizer_(optimizer), options_(std::move(options)),
        train_loss_(options_.label_smoothing), params_(model.parameters()), buffers_(model.buffers()),
        layers_(model.size()) {
    options_.penalty.template validate_for<S>();
    // (an empty model passes its input through as logits: 784 "classes" that labels 0-9 fit)
    detail::require(model.size() > 0, "Trainer: the model has no layers");
    detail::require(!params_.empty(), "Trainer: the model has no parameters to train");
    check_optimizer_matches_model();
    if (const auto shared = model.shared_random_state()) {  // (Dropout's default seed is 0: the same masks)
      detail::fail("Trainer: layers ", shared->first, " (", model[shared->first].describe(), ") and ", shared->second,
                   " (", model[shared->second].describe(), ") draw the same random numbers (their generators ",
                   "are in the same state, e.g. both seeded 0, Dropout's default); give each its own seed, e.g. ",
                   "Dropout(p, derive_seed(seed, \"dropout\", k)), or call model.seed_random_layers(seed)");
    }
    lr_writes_ = optimizer.lr_writes();
    for (const auto& b : buffers_) buffer_backup_.emplace_back(b.rows, b.cols);
  }
  Trainer(Sequential<S>& model, Optimizer<S>& optimizer, const Schedule& schedule, TrainerOptions options = {})
      : Trainer(model, optimizer, std::move(options)) {
    schedule_ = schedule.clone();
    detail::require(schedule_ != nullptr, "Trainer: the schedule's clone() returned nullptr");
  }

  // Callbacks and metrics are not owned and must outlive fit(); add them before resume().
  void add_callback(Callback<S>& callback) {
    detail::require(!resumed_, "add callbacks before resume(): resume() restores their state");
    // (a checkpoint lists the stateful callbacks' names joined by commas)
    const std::string name = callback.name();
    detail::require(!name.empty() && name.find(',') == std::string::npos, "a callback's name must not be empty or ",
                    "hold a comma, but got '", name, "'");
    for (const auto* c : callbacks_) {
      detail::require(c->name() != name, "a callback named '", name, "' is already registered");
    }
    callbacks_.push_back(&callback);
  }
  void add_callback(Callback<S>&&) = delete;  // would dangle
  // A metric computed over the validation data every epoch, logged as "val_" + its name.
  void add_metric(Metric<S>& metric) {
    detail::check_metric_name(metric.name());
    metrics_.push_back(&metric);
  }
  void add_metric(Metric<S>&&) = delete;  // would dangle

  // Stops training after the current step when *flag becomes true (e.g. from a SIGINT handler);
  // with a checkpoint path set, a checkpoint of that exact point is written first.
  void set_interrupt_flag(const std::atomic<bool>* flag) { interrupt_ = flag; }
  // Stored in every checkpoint's "extra" section (e.g. the run's configuration).
  void set_checkpoint_extra(TextSection extra) { extra_ = std::move(extra); }

  // The rate of the next step.
  double current_lr() const {
    const double base = optimizer_.base_lr();
    if (!schedule_) return lr_scale_ * base;
    const std::int64_t t = schedule_->unit() == ScheduleUnit::Step ? step_ : epoch_;
    const double lr = schedule_->lr_at(t, base);
    if (!(std::isfinite(lr) && lr >= 0.0)) {  // (the message only on failure: describe() allocates, and this runs every step)
      detail::fail<RuntimeError>("the schedule ", schedule_->describe(), " gave the learning rate ", lr, " at ",
                                 schedule_->unit() == ScheduleUnit::Step ? "step " : "epoch ", t,
                                 " (it has to be finite and >= 0)");
    }
    return lr_scale_ * lr;
  }

  // One optimizer step on one batch. When the loss is not finite, nothing changes: no update, and
  // what the forward pass moved (BatchNorm's running statistics, dropout generators) is put back.
  // Epochs are fit()'s: a schedule in Epochs gives a loop of one's own around train_step the rate of
  // epochs_done() at every step (give such a loop a schedule in Steps).
  StepResult train_step(const Batch<S>& batch) {
    const int most = configured_threads();
    if (governor_.most() != most) governor_.reset(most);
    const ThreadLimit limit(step_threads(), ThreadLimit::Replacing{});  // (above the callbacks' limit, when one steps)
    const auto start = std::chrono::steady_clock::now();
    StepResult r = step_on(batch);
    full_batch_ = std::max(full_batch_, batch.size());
    if (options_.adapt_threads && r.finite && batch.size() == full_batch_) governor_.record(seconds_since(start));
    return r;
  }

  // How the thread count of the steps was chosen (TrainerOptions::adapt_threads).
  const ThreadGovernor& thread_governor() const { return governor_; }

  // The threads the next train_step() uses: the thread governor's choice (TrainerOptions::
  // adapt_threads), or thread_count() without it.
  int step_threads() const { return governed_threads(true); }

  // The threads the work between the steps runs on (validation, the callbacks, evaluate()): the
  // count the governor chose at its last comparison, or thread_count() without it.
  int chosen_threads() const { return governed_threads(false); }

  // The loader's next batch, filled on the threads the next step uses. The loader fills a batch on
  // the library's threads; while the governor keeps the steps on 1 thread because another process
  // has a core, a fill on 2 would wait for the thread that is not running, for up to a scheduler
  // time slice, at every batch (M's epoch at 2 threads 9x as long as at 1, docs/performance.md,
  // "The twenty-sixth round"). fit() takes its batches this way; a loop of one's own around
  // train_step() should too.
  std::optional<Batch<S>> next_batch(DataLoader<S>& loader) {
    const ThreadLimit limit(step_threads(), ThreadLimit::Replacing{});
    return loader.next();
  }

  // Mean cross-entropy, accuracy, confusion matrix and metrics over a loader, in Eval mode, on the threads
  // the governor chose for the steps (as next_batch() says why; after fit(), its last choice).
  // With the metrics given to add_metric, under their own names (fit logs them with "val_").
  EvalResult evaluate(DataLoader<S>& loader) {
    const ChosenThreads chosen(*this);
    return mlp::evaluate(model_, loader, metrics_);
  }

  // Trains until `epochs` epochs are done (counting those of a resumed checkpoint) or a callback,
  // a non-finite loss or an interrupt stops it. `val` may be null (no validation metrics). What the
  // callbacks monitor is checked first: a metric the run does not produce is an InvalidArgument.
  History fit(DataLoader<S>& train, DataLoader<S>* val, int epochs) {
    detail::require(epochs >= 0 && epochs <= kMaxEpochs, "epochs has to be in [0, ", kMaxEpochs, "], but got ", epochs);
    check_complete("fit");
    declared_ = detail::check_metrics(callbacks_, metrics_, val != nullptr, options_.label_smoothing > 0.0);
    detail::check_written_files(callbacks_, options_.checkpoint);
    if (!options_.checkpoint.empty()) check_optimizer_steps("fit() with a checkpoint path");
    require_batches(train, "training");
    if (val != nullptr) require_batches(*val, "validation");  // (it failed only after the first epoch, in evaluate)
    check_model_unchanged();
    if (resumed_) {
      detail::require(resumed_batches_ == train.batches_per_epoch(), "the resumed checkpoint was written with ",
                      resumed_batches_, " batches per epoch, but this training loader has ",
                      train.batches_per_epoch(), " (another data set or batch size?)");
      // The epoch's batches before the checkpoint are all full ones (a short batch ends its epoch).
      const Index full = batch_in_epoch_ * train.options().batch_size;
      detail::require(acc_.samples == full, "the resumed checkpoint counts ", acc_.samples, " samples in the ",
                      batch_in_epoch_, " batches of its epoch so far, but this training loader's batches of ",
                      train.options().batch_size, " make ", full, " (a corrupt checkpoint?)");
    }
    if (!finished_) {  // a new fit: how an earlier one ended does not carry over
      history_.stop_reason.clear();
      history_.stopped_early = history_.diverged = history_.interrupted = false;
    }
    batches_ = train.batches_per_epoch();
    TrainContext<S> ctx{model_, optimizer_, history_};
    ctx.epochs = epochs;
    ctx.batches = batches_;
    ctx.lr_scale = lr_scale_;
    ctx.resumed = resumed_;
    ctx.step = step_;
    {
      const ChosenThreads chosen(*this);  // the callbacks, as the steps (next_batch says why)
      for (auto* c : callbacks_) c->on_train_begin(ctx);
    }
    take_lr_scale(ctx, "on_train_begin");
    if (finished_) {
      ctx.request_stop(history_.stop_reason);
    } else if (ctx.stop_requested()) {  // (the reason was lost: "completed 0 epochs")
      stop(detail::concat(ctx.stop_reason(), " (requested before epoch ", epoch_ + 1, ")"));
    }
    while (epoch_ < epochs && !ctx.stop_requested()) {
      ctx.epoch = epoch_;
      check_model_unchanged();  // (a layer a callback added would get gradients, and no update)
      if (batch_in_epoch_ == 0) {
        acc_ = {};
        {
          const ChosenThreads chosen(*this);
          for (auto* c : callbacks_) c->on_epoch_begin(ctx);
        }
        take_lr_scale(ctx, "on_epoch_begin");
        if (ctx.stop_requested()) {  // (one step ran first)
          stop(detail::concat(ctx.stop_reason(), " (requested before epoch ", epoch_ + 1, ")"));
          break;
        }
      }
      const Outcome outcome = run_batches(train, ctx);
      if (outcome != Outcome::Completed) break;
      {
        // Validation and what the callbacks do at the epoch's end, on the steps' threads (next_batch).
        const ChosenThreads chosen(*this);
        finish_epoch(val);
        if (history_.diverged) break;
        ctx.open_epoch_log(&history_.epochs.back(), &declared_);
        run_callbacks("on_epoch_end", epoch_, [&ctx](Callback<S>& c) { c.on_epoch_end(ctx); });
        ctx.close_epoch_log();
      }
      take_lr_scale(ctx, "on_epoch_end");
      if (ctx.stop_requested()) stop(ctx.stop_reason());
      if (!options_.checkpoint.empty()) save_checkpoint(options_.checkpoint);
      if (interrupt_ != nullptr && interrupt_->load() && !finished_ && epoch_ < epochs) {
        history_.interrupted = true;
        history_.stop_reason = detail::concat("interrupted after step ", step_, " (the end of epoch ", epoch_, ")");
        break;
      }
    }
    if (history_.stop_reason.empty()) {
      history_.stop_reason = detail::concat("completed ", epoch_, epoch_ == 1 ? " epoch" : " epochs");
    }
    {
      const ChosenThreads chosen(*this);
      for (auto* c : callbacks_) c->on_train_end(ctx);
    }
    return history_;
  }

  // Everything needed to continue exactly (see trainer_checkpoint.hpp). Missing folders are created.
  void save_checkpoint(const std::filesystem::path& path) const {
    // (between an epoch's last step and its end, a position resume() has no place for: written, it was refused)
    detail::require<RuntimeError>(batches_ > 0, "save_checkpoint before fit() or resume(): a checkpoint's position ",
                                  "counts the training loader's batches, which fit() is given");
    detail::require<RuntimeError>(batch_in_epoch_ < batches_, "save_checkpoint after the last batch (",
                                  batch_in_epoch_, " of ", batches_, ") of epoch ", epoch_ + 1, ", before the ",
                                  "epoch's end (validation, its log, on_epoch_end): a checkpoint there could not be ",
                                  "resumed; save it in on_epoch_end, or at an earlier batch");
    check_complete("save_checkpoint");
    check_optimizer_steps("save_checkpoint");
    detail::TrainerState state{epoch_, batch_in_epoch_, batches_, step_, lr_scale_, finished_, acc_};
    detail::write_training_checkpoint(path, model_, optimizer_, schedule_.get(), state, history_, callbacks_, extra_);
  }

  // Restores a checkpoint written by save_checkpoint for the same model, optimizer, schedule and
  // stateful callbacks; every field is checked against the others before anything is used.
  // Returns its "extra" section. Call after adding callbacks and before fit().
  TextSection resume(const std::filesystem::path& path) {
    detail::TrainerState state;
    TextSection extra = detail::read_training_checkpoint(path, model_, optimizer_, schedule_.get(), state, history_,
                                                         callbacks_);
    epoch_ = state.epoch;
    batch_in_epoch_ = state.batch_in_epoch;
    resumed_batches_ = batches_ = state.batches_per_epoch;
    step_ = state.step;
    lr_scale_ = state.lr_scale;
    finished_ = state.finished;
    acc_ = state.sums;
    if (!finished_) history_.stop_reason.clear();  // e.g. "interrupted ...": training goes on
    resumed_ = true;
    incomplete_.clear();  // (everything is the checkpoint's now)
    return extra;
  }

  const History& history() const { return history_; }
  int epochs_done() const { return epoch_; }
  std::int64_t step() const { return step_; }
  const TrainerOptions& options() const { return options_; }
  const Schedule* schedule() const { return schedule_.get(); }

 private:
  enum class Outcome { Completed, StoppedInEpoch, Diverged, Interrupted };

  // The count the steps may use: thread_count(), outside the Trainer's own ChosenThreads limits.
  int configured_threads() const { return outside_threads_ > 0 ? outside_threads_ : thread_count(); }

  // configured_threads(), or what the governor chose when it governs that count: for the next step
  // (next_step: the count it is trying during a comparison), or for the rest of the work.
  int governed_threads(bool next_step) const {
    const int most = configured_threads();
    if (!options_.adapt_threads || governor_.most() != most) return most;
    return next_step ? governor_.threads() : governor_.chosen();
  }

  // The work between the steps (validation, callbacks, evaluate) on the count the governor chose.
  // Inside, configured_threads() stays the count outside: a train_step called there (by a callback)
  // would otherwise take this limit for a new configured count and start the governor over.
  class ChosenThreads {
   public:
    explicit ChosenThreads(Trainer& trainer)
        : trainer_(trainer), saved_(trainer.outside_threads_), outside_(trainer.configured_threads()),
          limit_(trainer.chosen_threads()) {
      trainer_.outside_threads_ = outside_;
    }
    ~ChosenThreads() { trainer_.outside_threads_ = saved_; }
    ChosenThreads(const ChosenThreads&) = delete;
    ChosenThreads& operator=(const ChosenThreads&) = delete;

   private:
    Trainer& trainer_;
    int saved_, outside_;
    ThreadLimit limit_;
  };

  StepResult step_on(const Batch<S>& batch) {
    const detail::FlushDenormals flush(options_.flush_denormals);
    // (a layer a callback added in on_batch_end: the per-epoch check would see it only after the epoch)
    if (model_.size() != layers_) fail_model_changed(detail::concat(layers_, " layers then, ", model_.size(), " now"));
    for (const auto& p : params_) p.check_attached("trainer");
    for (const auto& b : buffers_) b.check_attached("trainer", "buffer");
    StepResult r;
    r.lr = current_lr();
    check_lr_unchanged(r.lr);
    optimizer_.write_lr(r.lr);
    for (std::size_t i = 0; i < buffers_.size(); ++i) buffer_backup_[i] = buffers_[i].value_map();
    model_.random_states(random_backup_);
    try {
      // A loader's full batch stays as it is until the loader's next batch, after this step: the first
      // layer keeps it for backward instead of copying it.
      const Matrix<S>& logits = kept_source(batch) ? model_.forward(batch.source, Mode::Train)
                                                   : model_.forward(batch.x, Mode::Train);
      r.loss = static_cast<double>(train_loss_.forward(logits, batch.y));
      r.plain_loss = train_loss_.plain_loss();
      if (options_.penalty.active()) r.penalty = options_.penalty.value(params_);
      if (!std::isfinite(r.loss) || !std::isfinite(r.penalty)) {
        restore_step_state();
        r.finite = false;
        return r;
      }
      r.correct = count_correct(logits, batch.y);
      model_.backward(train_loss_.backward());
      if (options_.penalty.active()) options_.penalty.add_gradient(params_);
    } catch (...) {
      // (a layer's exception left the running statistics and the generators a step on: a retry
      // was not the run without the exception)
      restore_step_state();
      throw;
    }
    optimizer_.step();
    ++step_;
    return r;
  }

  // `hook` of every callback, in order. When one throws, the callbacks after it have not seen that
  // batch or epoch, and what ctx asked (a lower rate, a stop) and that epoch's checkpoint are not
  // done: going on from there lost them without a word (a CsvLogger on a full disk left the run's
  // best epoch one behind, a ReduceLROnPlateau counted reductions the rate never had), so the
  // Trainer refuses fit() and save_checkpoint() until resume() (check_complete).
  template <class Hook>
  void run_callbacks(const char* hook_name, int epoch, Hook&& hook) {
    for (auto* c : callbacks_) {
      try {
        hook(*c);
      } catch (...) {
        incomplete_ = detail::concat("callback '", c->name(), "' threw in ", hook_name, " at step ", step_, " (epoch ", epoch, ")");
        throw;
      }
    }
  }
  void check_complete(const char* what) const {
    if (incomplete_.empty()) return;
    detail::fail<RuntimeError>(what, ": ", incomplete_, ", so the callbacks after it, a rate or stop it asked for and ",
                               "that point's checkpoint were not all done; resume() from the last checkpoint (or ",
                               "start over with a new Trainer)");
  }

  // A checkpoint holds the Trainer's step count and the optimizer's, and resume() refuses them apart
  // (Adam's bias correction counts the optimizer's steps): found when resuming, hours later.
  void check_optimizer_steps(const char* what) const {
    if (optimizer_.steps() == step_) return;
    detail::fail<RuntimeError>(what, ": the optimizer has taken ", optimizer_.steps(), " steps and this Trainer ", step_,
                               " (another Trainer, or a step() of one's own, stepped it too), so a checkpoint of this ",
                               "run could not be resumed; checkpoint a run whose optimizer only its Trainer steps");
  }

  // What a step's forward pass moves before the optimizer's update, as it was before the step.
  void restore_step_state() {
    for (std::size_t i = 0; i < buffers_.size(); ++i) buffers_[i].value_map() = buffer_backup_[i];
    model_.set_random_states(random_backup_);
  }

  // A rate set_lr wrote, since this Trainer was made or before, would be lost at this step (which
  // writes `rate`). (Another Trainer's rates are not set_lr's: two may train one optimizer in turn.)
  void check_lr_unchanged(double rate) const {
    const char* remedy = ", but the Trainer writes the rate before every step and the change would be lost: in a "
                         "callback, lower ctx.lr_scale (0 to 1); for a rate that changes over the steps, give the "
                         "Trainer a Schedule; for another base rate, make the optimizer with it";
    if (optimizer_.lr_writes() != lr_writes_) {
      detail::fail<RuntimeError>("the optimizer's learning rate was set to ", optimizer_.lr(), " (set_lr) after step ",
                                 step_, remedy);
    }
    if (optimizer_.lr_set() && optimizer_.lr() != rate) {
      detail::fail<RuntimeError>("the optimizer's learning rate was set to ", optimizer_.lr(), " (set_lr) before this ",
                                 "Trainer was made, which writes ", rate, " at its step ", step_ + 1, remedy);
    }
  }

  // Whether batch.source is there and is batch.x (a Batch put together by hand may carry another).
  static bool kept_source(const Batch<S>& batch) {
    const VersionedMatrix<S>& source = batch.source;
    if (source.matrix == nullptr) return false;
    detail::require(source.current() && source.matrix->data() == batch.x.data() &&
                        source.matrix->rows() == batch.x.rows() && source.matrix->cols() == batch.x.cols(),
                    "Trainer: the batch's source is not its x as it is (a Batch has to come from its "
                    "DataLoader's next(), or leave source empty)");
    return true;
  }

  // The callbacks' ctx.lr_scale, from the next step on.
  void take_lr_scale(const TrainContext<S>& ctx, const char* hook) {
    // (a checkpoint holds what a callback may set: 2 or NaN would make a run that cannot be resumed)
    detail::require(ctx.lr_scale >= 0.0 && ctx.lr_scale <= 1.0, "a callback set lr_scale to ", ctx.lr_scale, " in ",
                    hook, " (it scales the schedule's rate down: from 0 to 1)");
    lr_scale_ = ctx.lr_scale;
  }

  // The model still holds the tensors the Trainer and the optimizer were built over: layers added,
  // removed or replaced since (or the model moved from) would train other tensors than it updates.
  void check_model_unchanged() const {
    const auto now = model_.parameters();
    // (pointers alone could match a new model's: its layers may lie where the freed ones were)
    const bool alive = std::all_of(params_.begin(), params_.end(), [](const TensorRef<S>& p) { return p.attached(); });
    if (!alive || !same_values(now, params_)) fail_model_changed(detail::concat(params_.size(), " tensors then, ", now.size(), " now"));
  }
  [[noreturn]] void fail_model_changed(const std::string& what) const {
    detail::fail<RuntimeError>("Trainer: the model no longer holds the parameters the Trainer was made with (", what,
                               ": layers added, removed or replaced, the model moved from or assigned, or a layer that made its tensors "
                               "after the Trainer was made (a layer makes them when it is built)); make the ",
                               "optimizer and the Trainer after changing the model, or load weights with load_model_into");
  }

  static void require_batches(const DataLoader<S>& loader, const char* which) {
    detail::require(loader.batches_per_epoch() > 0, "the ", which, " loader gives no batch (", loader.size(),
                    " samples in batches of ", loader.options().batch_size,
                    loader.options().drop_last ? ", the last one dropped" : "", ")");
  }

  // Whether two lists view the same tensors, in the same order (by their storage).
  static bool same_values(const std::vector<TensorRef<S>>& a, const std::vector<TensorRef<S>>& b) {
    bool same = a.size() == b.size();
    for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i].value == b[i].value;
    return same;
  }

  // The optimizer holds the model's parameters, or some of them (the others frozen): each one of the
  // model's, in the model's order, none twice.
  void check_optimizer_matches_model() const {
    const auto& held = optimizer_.parameters();
    detail::require(!held.empty(), "Trainer: the optimizer holds no tensor, so nothing would train (layers without ",
                    "parameters given to parameters_of_layers?)");
    std::size_t at = 0;
    for (const auto& p : held) {
      while (at < params_.size() && params_[at].value != p.value) ++at;
      detail::require(at < params_.size(), "Trainer: the optimizer does not hold this model's parameters: its tensor '",
                      p.name, "' (", held.size(), " tensors) is not one of the model's ", params_.size(),
                      ", or is not in the model's order, or comes twice; build it from model.parameters(), or from ",
                      "model.parameters_of_layers(first, end) to train some layers only");
      ++at;
    }
  }

  void stop(const std::string& reason) {
    finished_ = true;
    history_.stopped_early = true;
    history_.stop_reason = reason;
  }

  // Runs the rest of the current epoch's batches.
  Outcome run_batches(DataLoader<S>& train, TrainContext<S>& ctx) {
    const auto start = std::chrono::steady_clock::now();
    train.start_epoch(epoch_);
    train.skip_batches(batch_in_epoch_);
    while (auto batch = next_batch(train)) {
      const std::uint64_t loader_changes = train.changes();
      const StepResult r = train_step(*batch);
      if (!r.finite) {
        history_.diverged = true;
        history_.stop_reason = detail::concat(
            "non-finite training loss (", detail::number_text(r.loss), ", penalty ",
            detail::number_text(r.penalty), ") at step ", step_ + 1, " (epoch ", epoch_ + 1, ", batch ",
            batch_in_epoch_ + 1, "); this step changed nothing in the model", non_finite_note(),
            "; try a lower learning rate");
        return Outcome::Diverged;
      }
      const auto n = static_cast<double>(batch->size());
      acc_.loss += r.plain_loss * n;
      acc_.objective += r.loss * n;
      acc_.penalty += r.penalty;
      acc_.correct += r.correct;
      acc_.samples += batch->size();
      ++acc_.steps;
      ++batch_in_epoch_;
      ctx.step = step_;
      ctx.batch = batch_in_epoch_;
      ctx.batch_loss = r.plain_loss;
      ctx.running_loss = acc_.loss / static_cast<double>(acc_.samples);
      ctx.epoch_samples = acc_.samples;
      ctx.lr = r.lr;
      {
        const ChosenThreads chosen(*this);
        run_callbacks("on_batch_end", epoch_ + 1, [&ctx](Callback<S>& c) { c.on_batch_end(ctx); });
      }
      take_lr_scale(ctx, "on_batch_end");  // (it was taken only at the epoch's end)
      // A callback that evaluated on the training loader started its epoch over: the rest of this
      // epoch was skipped, and its checkpoint could not be resumed.
      detail::require<RuntimeError>(train.changes() == loader_changes, "a callback used the training loader in ",
                                    "on_batch_end (evaluate or next() on it) at batch ", batch_in_epoch_, " of epoch ",
                                    epoch_ + 1, "; evaluate on a loader of its own");
      // At the epoch's last batch the epoch ends first (validation, its log, the checkpoint: fit
      // stops after it): a checkpoint at that batch could not be resumed, its position out of range.
      if (interrupt_ != nullptr && interrupt_->load() && batch_in_epoch_ < batches_) {
        acc_.seconds += seconds_since(start);
        history_.interrupted = true;
        history_.stop_reason = detail::concat("interrupted after step ", step_, " (epoch ", epoch_ + 1,
                                              ", batch ", batch_in_epoch_, ")");
        if (!options_.checkpoint.empty()) save_checkpoint(options_.checkpoint);
        return Outcome::Interrupted;
      }
      if (ctx.stop_requested() && batch_in_epoch_ < batches_) {
        acc_.seconds += seconds_since(start);
        // before the checkpoint, which a resume then ends with the same reason (it was saved finished
        // without a reason, and refused)
        stop(detail::concat(ctx.stop_reason(), " (requested in epoch ", epoch_ + 1, " after batch ",
                            batch_in_epoch_, " of ", batches_, "; that partial epoch is not logged)"));
        if (!options_.checkpoint.empty()) save_checkpoint(options_.checkpoint);
        return Outcome::StoppedInEpoch;
      }
    }
    acc_.seconds += seconds_since(start);
    return Outcome::Completed;
  }

  void finish_epoch(DataLoader<S>* val) {
    const auto start = std::chrono::steady_clock::now();
    EpochLog log;
    log.epoch = epoch_ + 1;
    const double n = static_cast<double>(std::max<Index>(acc_.samples, 1));
    log.train_loss = acc_.loss / n;
    log.train_acc = static_cast<double>(acc_.correct) / n;
    log.penalty = acc_.steps > 0 ? acc_.penalty / static_cast<double>(acc_.steps) : 0.0;
    log.lr = optimizer_.lr();
    log.steps = step_;
    if (options_.label_smoothing > 0.0) log.custom[metric::train_smoothed_loss] = acc_.objective / n;
    if (val != nullptr) {
      const EvalResult v = mlp::evaluate(model_, *val, metrics_);
      log.val_loss = v.loss;
      log.val_acc = v.accuracy;
      for (const auto& [name, value] : v.metrics) log.custom["val_" + name] = value;
      if (!std::isfinite(v.loss)) {
        history_.diverged = true;
        history_.stop_reason = detail::concat("non-finite validation loss (", detail::number_text(v.loss),
                                              ") after epoch ", epoch_ + 1, non_finite_note());
      }
    }
    log.seconds = acc_.seconds + seconds_since(start);
    history_.epochs.push_back(log);
    ++epoch_;
    batch_in_epoch_ = 0;
    acc_ = {};  // the sums belong to the logged epoch; a checkpoint now holds those of none
  }

  // Where the non-finite values are, for divergence messages: the first parameter tensor holding
  // one, and the first layer whose output in the failed forward pass did.
  std::string non_finite_note() const {
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

  Sequential<S>& model_;
  Optimizer<S>& optimizer_;
  std::unique_ptr<Schedule> schedule_;  // null: the optimizer's base rate throughout
  TrainerOptions options_;
  SoftmaxCrossEntropy<S> train_loss_;
  std::vector<TensorRef<S>> params_;
  std::vector<TensorRef<S>> buffers_;     // running statistics, restored after a non-finite step
  std::size_t layers_;                    // the model's layers when the Trainer was made
  std::vector<Matrix<S>> buffer_backup_;  // their values before the step's forward pass
  std::uint64_t lr_writes_ = 0;  // the optimizer's count of set_lr calls when this Trainer was made
  std::vector<std::uint64_t> random_backup_;  // dropout generators before the step's forward pass
  std::vector<Callback<S>*> callbacks_;
  std::vector<Metric<S>*> metrics_;
  std::vector<std::string> declared_;     // metrics callbacks may log with ctx.log_metric
  const std::atomic<bool>* interrupt_ = nullptr;
  TextSection extra_;
  History history_;
  detail::EpochSums acc_;
  int epoch_ = 0;               // epochs completed
  Index batch_in_epoch_ = 0;    // batches completed in the current epoch
  Index batches_ = 0;           // batches per epoch of the training loader
  Index resumed_batches_ = 0;   // ... as the resumed checkpoint recorded it
  std::int64_t step_ = 0;       // optimizer steps done
  double lr_scale_ = 1.0;
  bool resumed_ = false;
  bool finished_ = false;       // a callback ended training (saved, so a resume ends too)
  std::string incomplete_;      // a callback threw in on_batch_end or on_epoch_end (run_callbacks)
  ThreadGovernor governor_;
  int outside_threads_ = 0;     // thread_count() outside the ChosenThreads in scope (0: none)
  Index full_batch_ = 0;        // the largest batch seen: the governor times only those
};

}  // namespace mlp
