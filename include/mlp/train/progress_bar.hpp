// Progress output to a stream the program chooses (the library itself never prints).
// On a terminal: a live line per epoch (batch k/n, running loss, samples/s, ETA), redrawn at most
// ten times a second, replaced by a summary line when the epoch ends. Elsewhere (a log file, a
// pipe): the summary lines only.
#pragma once

#include "mlp/train/callback.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

namespace mlp {

inline std::string format_duration(double seconds) {
  const long long s = std::llround(seconds);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  }
  return text;
}

// "epoch  3/30  train loss 0.4123 acc 85.21%  val loss 0.4301 acc 84.90%  lr 1.00e-03  2.9 s"
inline std::string epoch_summary(const EpochLog& e, int epochs) {
  char text[256];
  const int width = static_cast<int>(std::to_string(epochs).size());
  int n = std::snprintf(text, sizeof text, "epoch %*d/%d  train loss %.4f acc %.2f%%", width,
                        e.epoch, epochs, e.train_loss, 100.0 * e.train_acc);
  if (e.val_loss == e.val_loss) {  // not NaN
    n += std::snprintf(text + n, sizeof text - static_cast<std::size_t>(n),
                       "  val loss %.4f acc %.2f%%", e.val_loss, 100.0 * e.val_acc);
  }
  std::snprintf(text + n, sizeof text - static_cast<std::size_t>(n), "  lr %.2e  %.1f s", e.lr,
                e.seconds);
  return text;
}

template <class S = float>
class ProgressBar final : public Callback<S> {
 public:
  // `live`: redraw a line during the epoch (pass true when `out` is a terminal). `prefix` starts
  // every line (e.g. the run's name).
  ProgressBar(std::ostream& out, bool live, std::string prefix = "")
      : out_(out), live_(live), prefix_(std::move(prefix)) {}

  std::string name() const override { return "progress"; }

  void on_epoch_begin(TrainContext<S>& /*ctx*/) override {
    start_ = last_draw_ = std::chrono::steady_clock::now();
    start_samples_ = -1;
  }

  void on_batch_end(TrainContext<S>& ctx) override {
    if (!live_) return;
    const auto now = std::chrono::steady_clock::now();
    if (start_samples_ < 0) {  // the first batch after (re)starting the epoch sets the pace origin
      start_samples_ = ctx.epoch_samples;
      start_ = now;
      start_batch_ = ctx.batch;
      return;
    }
    if (now - last_draw_ < std::chrono::milliseconds(100) && ctx.batch != ctx.batches) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(ctx.epoch_samples - start_samples_) / elapsed : 0.0;
    const double per_batch = ctx.batch > start_batch_ ? elapsed / static_cast<double>(ctx.batch - start_batch_) : 0.0;
    const double eta = per_batch * static_cast<double>(ctx.batches - ctx.batch);
    char text[200];
    std::snprintf(text, sizeof text, "\r%sepoch %d/%d  batch %lld/%lld  loss %.4f  %.0f samples/s  ETA %s   ",
                  prefix_.c_str(), ctx.epoch + 1, ctx.epochs, static_cast<long long>(ctx.batch),
                  static_cast<long long>(ctx.batches), ctx.running_loss, rate,
                  format_duration(eta).c_str());
    out_ << text << std::flush;
    drawn_ = true;
  }

  void on_epoch_end(TrainContext<S>& ctx) override {
    if (drawn_) out_ << "\r\033[K";  // clear the live line
    drawn_ = false;
    out_ << prefix_ << epoch_summary(*ctx.log, ctx.epochs) << "\n" << std::flush;
  }

  void on_train_end(TrainContext<S>& ctx) override {
    if (drawn_) out_ << "\r\033[K" << std::flush;
    drawn_ = false;
    if (ctx.history.diverged || ctx.history.stopped_early || ctx.history.interrupted) {
      out_ << prefix_ << ctx.history.stop_reason << "\n" << std::flush;
    }
  }

 private:
  std::ostream& out_;
  bool live_;
  std::string prefix_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  Index start_samples_ = -1;
  Index start_batch_ = 0;
  bool drawn_ = false;
};

}  // namespace mlp
