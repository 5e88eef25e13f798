// Progress output to a stream the program chooses (the library itself never prints).
// On a terminal: a live line per epoch (batch k/n, running loss, samples/s, ETA), redrawn at most
// ten times a second, replaced by a summary line when the epoch ends. Elsewhere (a log file, a
// pipe): the summary lines only. Every line fits in `width` columns when a width is given (the
// terminal's), so nothing wraps and a redraw never scrolls. How training ended is for the program
// to print, once: the history's stop_reason.
#pragma once

#include "mlp/train/callback.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <ostream>
#include <string>

namespace mlp {

namespace detail {

// printf into a std::string of whatever length the result needs.
template <class... Args>
std::string format(const char* pattern, Args... args) {
  const int n = std::snprintf(nullptr, 0, pattern, args...);
  if (n <= 0) return {};
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(text.data(), text.size(), pattern, args...);
  text.pop_back();
  return text;
}

// The first candidate that fits in `width` columns (0: no limit), else the last one cut to fit.
inline std::string fit_line(std::initializer_list<std::string> candidates, int width) {
  std::string last;
  for (const auto& c : candidates) {
    if (width <= 0 || c.size() <= static_cast<std::size_t>(width)) return c;
    last = c;
  }
  return last.substr(0, static_cast<std::size_t>(std::max(width, 0)));
}

}  // namespace detail

inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "?";
  const long long s = std::llround(seconds);
  if (s >= 3600) return detail::format("%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return detail::format("%lld:%02lld", s / 60, s % 60);
}

// "epoch  3/30  train loss 0.4123 acc 85.21%  val loss 0.4301 acc 84.90%  lr 1.00e-03  2.9 s",
// shortened step by step to fit in `width` columns (0: the long form).
inline std::string epoch_summary(const EpochLog& e, int epochs, int width = 0) {
  const int w = static_cast<int>(std::to_string(epochs).size());
  const bool val = !std::isnan(e.val_loss);
  const std::string head = detail::format("epoch %*d/%d", w, e.epoch, epochs);
  const std::string train = detail::format("train loss %.4f acc %.2f%%", e.train_loss, 100.0 * e.train_acc);
  const std::string valid = val ? detail::format("  val loss %.4f acc %.2f%%", e.val_loss, 100.0 * e.val_acc) : "";
  const std::string tail = detail::format("  lr %.2e  %.1f s", e.lr, e.seconds);
  const std::string compact =
      detail::format("%*d/%d loss %.4f", w, e.epoch, epochs, e.train_loss) +
      (val ? detail::format("/%.4f acc %.2f/%.2f%%", e.val_loss, 100.0 * e.train_acc, 100.0 * e.val_acc)
           : detail::format(" acc %.2f%%", 100.0 * e.train_acc)) +
      detail::format(" lr %.1e %.0fs", e.lr, e.seconds);
  return detail::fit_line({head + "  " + train + valid + tail, head + "  " + train + valid, compact}, width);
}

template <class S = float>
class ProgressBar final : public Callback<S> {
 public:
  // `live`: redraw a line during the epoch (pass true when `out` is a terminal). `prefix` starts
  // every line (e.g. the run's name). `width`: the terminal's columns (0: no limit).
  ProgressBar(std::ostream& out, bool live, std::string prefix = "", int width = 0)
      : out_(out), live_(live), prefix_(std::move(prefix)), width_(width) {}

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
    const auto batch = static_cast<long long>(ctx.batch), batches = static_cast<long long>(ctx.batches);
    const std::string line = detail::fit_line(
        {prefix_ + detail::format("epoch %d/%d  batch %lld/%lld  loss %.4f  %.0f samples/s  ETA %s", ctx.epoch + 1,
                                  ctx.epochs, batch, batches, ctx.running_loss, rate, format_duration(eta).c_str()),
         prefix_ + detail::format("%d/%d %lld/%lld loss %.4f ETA %s", ctx.epoch + 1, ctx.epochs, batch, batches,
                                  ctx.running_loss, format_duration(eta).c_str())},
        width_ > 0 ? std::max(width_ - 1, 1) : 0);  // the last column would wrap on some terminals
    out_ << "\r" << line << "\033[K" << std::flush;
    drawn_ = true;
  }

  void on_epoch_end(TrainContext<S>& ctx) override {
    clear_live_line();
    const int room = width_ > 0 ? std::max(width_ - 1 - static_cast<int>(prefix_.size()), 1) : 0;
    out_ << prefix_ << epoch_summary(*ctx.log, ctx.epochs, room) << "\n" << std::flush;
  }

  void on_train_end(TrainContext<S>& /*ctx*/) override { clear_live_line(); }

 private:
  void clear_live_line() {
    if (drawn_) out_ << "\r\033[K" << std::flush;
    drawn_ = false;
  }

  std::ostream& out_;
  bool live_;
  std::string prefix_;
  int width_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  Index start_samples_ = -1;
  Index start_batch_ = 0;
  bool drawn_ = false;
};

}  // namespace mlp
