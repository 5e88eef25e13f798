// How many threads the next training step uses, chosen from the wall time of the last steps.
//
// A step on 2 threads waits at every parallel pass for both threads. While another process keeps
// one core busy, one of the two is often not running, and the step can take many times as long as
// on 1 thread (50x for the M model of docs/performance.md). The governor therefore compares, now
// and then, the configured count ("most") with 1 thread and keeps the faster:
// - A comparison runs 1 + 3 steps on the other count (the first only warms up) against the mean
//   of the 3 steps just before; the other count has to take less than 90% of the time to be taken.
//   A step of the other count that takes more than twice that mean (four times, for the warm-up
//   step) ends the comparison at once.
// - When the other count took less than 90%, 1 + 3 steps on the current count follow, and it is
//   taken only if it also took less than 90% of those: the 3 steps before may have been a slow
//   moment of the machine that had passed (a comparison often starts because the last steps were
//   slow, below). Without this check, on a quiet but noisy virtual machine, M's and MBD's 2-thread
//   steps switched to 1 thread and back up to 6 times in 5 epochs, which made their epochs up to
//   14% longer (docs/performance.md, "The twenty-sixth round"). A comparison that does not switch
//   after it takes the mean just measured as the reference for the slowdown rule below.
// - The check is left out when 1 thread, tried against `most`, took less than half of each of the
//   3 steps before (of each: one slow step can make their mean). With a core taken, 2-thread steps
//   take 5 to 70 times as long as 1-thread ones, and the check's 4 steps made L's first epoch under
//   load about 0.4 s longer (docs/performance.md, "The twenty-seventh round"); on a quiet machine
//   1 thread takes 1.1-1.7 times as long as 2 (1.1 for M in bf16), so it would take 3 steps in a
//   row 2.2-3.4 times as slow as usual. A trial of `most` threads always has the check.
// - The first comparison comes as soon as 3 steps (after a warm-up step) are measured. The next
//   comes after twice as many steps as the last (8 up to 512), and not before the steps since took
//   50 times what the last comparison's steps took (after a switch, at least the fastest step of
//   the count left), so comparing costs at most about 2% of the time.
// - On `most` threads, 3 steps 1.5 times slower than the reference (the load changed) start a
//   comparison at once.
//
// Every parallel pass of the library computes the same bits at any thread count
// (core/threads.hpp), so this choice changes the speed of training, never its numbers.
// The Trainer records only full-size batches whose loss was finite: a smaller last batch pays the
// same fixed costs (the optimizer's update) for fewer samples, and would look like a slowdown.
#pragma once

#include <algorithm>
#include <array>
#include <limits>

namespace mlp {

class ThreadGovernor {
 public:
  static constexpr int kMeasured = 3;         // steps averaged on each side of a comparison
  static constexpr int kFirstPeriod = 8;      // steps between comparisons after a change
  static constexpr int kLongestPeriod = 512;
  static constexpr double kSwitchBelow = 0.9; // the other count must take < 90% of the time
  static constexpr double kSwitchAtOnce = 0.5; // under 50% of each step before: taken without the check
  static constexpr double kGiveUpAbove = 2.0; // a step of the other count this much slower ends a comparison
  static constexpr double kGiveUpWarmUp = 4.0; // ... for its first step, which also wakes threads up
  static constexpr double kSlowdown = 1.5;    // the last steps this much slower: compare now
  static constexpr double kBudget = 50.0;     // time between comparisons, in multiples of the last one's

  explicit ThreadGovernor(int most = 1) { reset(most); }

  // Starts over with `most` threads as the configured count (e.g. after Eigen::setNbThreads).
  void reset(int most) {
    most_ = std::max(1, most);
    current_ = most_;
    probing_ = confirming_ = false;
    period_ = kMeasured;  // the first comparison as soon as 3 steps are measured
    reference_ = std::numeric_limits<double>::infinity();
    probe_cost_ = elapsed_ = 0.0;
    since_ = recent_count_ = 0;
    comparisons_ = switches_ = 0;
  }

  int most() const { return most_; }
  // The thread count for the next step.
  int threads() const { return probing_ ? other() : current_; }
  // The count chosen at the last comparison (not the one being tried).
  int chosen() const { return current_; }
  int comparisons() const { return comparisons_; }
  int switches() const { return switches_; }

  // The wall time of the step just run with threads() (steps of one batch size).
  void record(double seconds) {
    const double t = seconds;
    if (most_ == 1 || !(t >= 0.0) || t == std::numeric_limits<double>::infinity()) return;
    if (probing_) {
      probe_cost_ += t;
      ++probe_steps_;
      if (t > (probe_steps_ == 1 ? kGiveUpWarmUp : kGiveUpAbove) * current_mean_) {
        finish_comparison(false, current_mean_, current_fastest_);
      } else if (probe_steps_ > 1) {
        probe_sum_ += t;
        if (probe_steps_ == kMeasured + 1) {
          if (current_ == most_ && probe_sum_ / kMeasured < kSwitchAtOnce * current_fastest_) {
            finish_comparison(true, current_mean_, current_fastest_);
          } else if (probe_sum_ / kMeasured < kSwitchBelow * current_mean_) {
            probing_ = false;  // the current count again, measured afresh
            confirming_ = true;
            confirm_steps_ = 0;
            confirm_sum_ = 0.0;
            confirm_fastest_ = std::numeric_limits<double>::infinity();
          } else {
            finish_comparison(false, current_mean_, current_fastest_);
          }
        }
      }
      return;
    }
    if (confirming_) {
      if (++confirm_steps_ > 1) {  // the first warms up again
        confirm_sum_ += t;
        confirm_fastest_ = std::min(confirm_fastest_, t);
      }
      if (confirm_steps_ == kMeasured + 1) {
        const double again = confirm_sum_ / kMeasured;
        finish_comparison(probe_sum_ / kMeasured < kSwitchBelow * again, again, confirm_fastest_);
      }
      return;
    }
    elapsed_ += t;
    if (++since_ == 1) return;  // the first step after a change warms caches and threads up
    recent_[static_cast<std::size_t>(recent_count_++ % kMeasured)] = t;
    if (recent_count_ < kMeasured) return;
    double sum = 0.0;
    for (double r : recent_) sum += r;
    const double mean = sum / kMeasured;
    const double fastest = *std::min_element(recent_.begin(), recent_.end());
    const bool due = since_ > period_ && elapsed_ >= kBudget * probe_cost_;
    const bool slowed = current_ == most_ && mean > kSlowdown * reference_;
    if (due || slowed) start_comparison(mean, fastest);
  }

 private:
  int other() const { return current_ == most_ ? 1 : most_; }

  void start_comparison(double current_mean, double current_fastest) {
    probing_ = true;
    current_mean_ = current_mean;
    current_fastest_ = current_fastest;
    probe_steps_ = 0;
    probe_sum_ = probe_cost_ = 0.0;
  }

  // current_mean, current_fastest: the current count's mean and fastest step, measured again after
  // the trial if it was.
  void finish_comparison(bool take_other, double current_mean, double current_fastest) {
    probing_ = confirming_ = false;
    ++comparisons_;
    if (take_other) {
      current_ = other();
      ++switches_;
      reference_ = probe_sum_ / kMeasured;
      period_ = kFirstPeriod;
      // The next comparison tries the count just left, which costs at least one of its steps: the
      // budget counts that, not the steps of the trial that won (M under load: a 2-thread step is
      // 70 times a 1-thread one, and the next comparison came after 0.18 s, to cost 0.056 s). Its
      // fastest step, not the mean, which one slow step of the host can make.
      probe_cost_ = std::max(probe_cost_, current_fastest);
    } else {
      reference_ = current_mean;
      period_ = std::clamp(2 * period_, kFirstPeriod, kLongestPeriod);
    }
    since_ = recent_count_ = 0;
    elapsed_ = 0.0;
  }

  int most_ = 1, current_ = 1;
  bool probing_ = false, confirming_ = false;
  int probe_steps_ = 0, confirm_steps_ = 0;
  double probe_sum_ = 0.0, probe_cost_ = 0.0, current_mean_ = 0.0, current_fastest_ = 0.0;
  double confirm_sum_ = 0.0, confirm_fastest_ = 0.0;
  int period_ = kFirstPeriod, since_ = 0;
  double elapsed_ = 0.0, reference_ = 0.0;
  std::array<double, kMeasured> recent_{};
  int recent_count_ = 0;
  int comparisons_ = 0, switches_ = 0;
};

}  // namespace mlp
