// How many threads the next training step uses, chosen from the wall time of the last steps.
//
// A step on 2 threads waits at every parallel pass for both threads. While another process keeps
// one core busy, one of the two is often not running, and the step can take several times as
// long as on 1 thread. The governor therefore compares, now and then, the configured count
// ("most") with 1 thread and keeps the faster. A comparison runs 1 + 3 steps on the other count
// (the first only warms up) against the 3 steps just before. The other count has to be at least
// 10% faster to be taken.
// When a comparison confirms the current choice, the next one comes after twice as many steps
// (from 8 up to 512). It comes at once when the last 3 steps got 1.5 times slower than the
// reference (the load changed).
//
// Every parallel pass of the library computes the same bits at any thread count
// (core/threads.hpp), so this choice changes the speed of training, never its numbers.
// Times are per sample, so a smaller last batch compares fairly.
#pragma once

#include <algorithm>
#include <array>
#include <limits>

namespace mlp {

class ThreadGovernor {
 public:
  static constexpr int kMeasured = 3;             // steps averaged on each side of a comparison
  static constexpr int kFirstPeriod = 8;          // steps between comparisons after a change
  static constexpr int kLongestPeriod = 512;
  static constexpr double kSwitchBelow = 0.9;     // the other count must take < 90% of the time
  static constexpr double kSlowdown = 1.5;        // the last steps this much slower: compare now

  explicit ThreadGovernor(int most = 1) { reset(most); }

  // Starts over with `most` threads as the configured count (e.g. after Eigen::setNbThreads).
  void reset(int most) {
    most_ = std::max(1, most);
    current_ = most_;
    probing_ = false;
    period_ = kFirstPeriod / 2;  // the first comparison comes early
    reference_ = std::numeric_limits<double>::infinity();
    since_ = 0;
    recent_count_ = 0;
  }

  int most() const { return most_; }
  // The thread count for the next step.
  int threads() const { return probing_ ? other() : current_; }
  // The count chosen at the last comparison (not the one probed).
  int chosen() const { return current_; }
  int comparisons() const { return comparisons_; }
  int switches() const { return switches_; }

  // The wall time per sample of the step just run with threads().
  void record(double seconds_per_sample) {
    if (most_ == 1 || !(seconds_per_sample >= 0.0)) return;
    if (probing_) {
      if (++probe_steps_ > 1) probe_sum_ += seconds_per_sample;
      if (probe_steps_ == kMeasured + 1) finish_comparison();
      return;
    }
    if (++since_ == 1) return;  // the first step after a change warms caches and threads up
    recent_[static_cast<std::size_t>(recent_count_++ % kMeasured)] = seconds_per_sample;
    if (recent_count_ < kMeasured) return;
    double sum = 0.0;
    for (double t : recent_) sum += t;
    const double mean = sum / kMeasured;
    if (since_ > period_ || mean > kSlowdown * reference_) start_comparison(mean);
  }

 private:
  int other() const { return current_ == most_ ? 1 : most_; }

  void start_comparison(double current_mean) {
    probing_ = true;
    current_mean_ = current_mean;
    probe_steps_ = 0;
    probe_sum_ = 0.0;
  }

  void finish_comparison() {
    probing_ = false;
    ++comparisons_;
    const double other_mean = probe_sum_ / kMeasured;
    if (other_mean < kSwitchBelow * current_mean_) {
      current_ = other();
      ++switches_;
      reference_ = other_mean;
      period_ = kFirstPeriod;
    } else {
      reference_ = current_mean_;
      period_ = std::min(2 * period_, kLongestPeriod);
    }
    since_ = 0;
    recent_count_ = 0;
  }

  int most_ = 1, current_ = 1;
  bool probing_ = false;
  int probe_steps_ = 0;
  double probe_sum_ = 0.0, current_mean_ = 0.0;
  int period_ = kFirstPeriod, since_ = 0;
  double reference_ = 0.0;
  std::array<double, kMeasured> recent_{};
  int recent_count_ = 0;
  int comparisons_ = 0, switches_ = 0;
};

}  // namespace mlp
