// Learning-rate schedules: pure functions lr_at(t, base_lr) of time, with PyTorch's formulas. The
// base rate is the optimizer's own (its options' lr); a schedule only shapes it over time, so the
// learning rate is given in one place. The trainer is the only writer of the rate:
//   lr = lr_scale * schedule.lr_at(t, optimizer.base_lr())
// where lr_scale is 1 unless a callback such as ReduceLROnPlateau lowered it.
//
// Time is counted in optimizer steps or in epochs, and every duration says which: Steps{500} or
// Epochs{10}. A schedule counts in the unit of its durations (t = steps done, or epochs done;
// within an epoch an epoch schedule holds its rate, as PyTorch's scheduler.step() once per epoch
// does). Every formula below is the exact one used, with T the duration in its unit.
#pragma once

#include "mlp/core/errors.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mlp {

enum class ScheduleUnit { Step, Epoch };

struct Steps {
  explicit constexpr Steps(std::int64_t n) : count(n) {}
  std::int64_t count;
};
struct Epochs {
  explicit constexpr Epochs(std::int64_t n) : count(n) {}
  std::int64_t count;
};

// A length of time in steps or epochs (a bare integer does not convert: the unit must be said).
class Duration {
 public:
  Duration(Steps s) : count_(s.count), unit_(ScheduleUnit::Step) {}     // NOLINT: implicit on purpose
  Duration(Epochs e) : count_(e.count), unit_(ScheduleUnit::Epoch) {}   // NOLINT: implicit on purpose
  std::int64_t count() const { return count_; }
  ScheduleUnit unit() const { return unit_; }
  std::string str() const {
    return detail::concat(count_, unit_ == ScheduleUnit::Step ? " step" : " epoch", count_ == 1 ? "" : "s");
  }

 private:
  std::int64_t count_;
  ScheduleUnit unit_;
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  // The rate at time t >= 0 (in unit()) for an optimizer whose base rate is base_lr.
  virtual double lr_at(std::int64_t t, double base_lr) const = 0;
  virtual ScheduleUnit unit() const = 0;
  virtual std::string describe() const = 0;
  virtual std::unique_ptr<Schedule> clone() const = 0;
};

namespace detail {

inline constexpr double kPi = 3.14159265358979323846;

template <class Derived>
class ScheduleOf : public Schedule {
 public:
  std::unique_ptr<Schedule> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

inline void require_positive(const Duration& d, const char* what) {
  require(d.count() > 0, what, " needs a positive duration, but got ", d.str());
}

}  // namespace detail

// PyTorch's ConstantLR: lr = base_lr * factor for t < T, then base_lr.  0 < factor <= 1.
class ConstantLR final : public detail::ScheduleOf<ConstantLR> {
 public:
  ConstantLR(double factor, Duration total_iters) : factor_(factor), total_(total_iters) {
    detail::require(factor > 0.0 && factor <= 1.0, "ConstantLR factor has to be in (0, 1], but got ", factor);
    detail::require(total_iters.count() >= 0, "ConstantLR needs total_iters >= 0, but got ", total_iters.str());
  }
  double lr_at(std::int64_t t, double base_lr) const override {
    return t < total_.count() ? base_lr * factor_ : base_lr;
  }
  ScheduleUnit unit() const override { return total_.unit(); }
  std::string describe() const override {
    return detail::concat("constant x", factor_, " for ", total_.str(), ", then the base rate");
  }

 private:
  double factor_;
  Duration total_;
};

// PyTorch's LinearLR: lr = base_lr * (start + (end - start) * min(t, T) / T).
class LinearLR final : public detail::ScheduleOf<LinearLR> {
 public:
  LinearLR(double start_factor, double end_factor, Duration total_iters)
      : start_(start_factor), end_(end_factor), total_(total_iters) {
    detail::require(start_factor > 0.0 && start_factor <= 1.0 && end_factor >= 0.0 && end_factor <= 1.0,
                    "LinearLR needs 0 < start_factor <= 1 and 0 <= end_factor <= 1, but got ",
                    start_factor, " and ", end_factor);
    detail::require_positive(total_iters, "LinearLR");
  }
  double lr_at(std::int64_t t, double base_lr) const override {
    const double progress = static_cast<double>(std::min(t, total_.count())) / static_cast<double>(total_.count());
    return base_lr * (start_ + (end_ - start_) * progress);
  }
  ScheduleUnit unit() const override { return total_.unit(); }
  std::string describe() const override {
    return detail::concat("linear x", start_, " -> x", end_, " over ", total_.str());
  }

 private:
  double start_, end_;
  Duration total_;
};

// PyTorch's StepLR: lr = base_lr * gamma^floor(t / step_size).
class StepLR final : public detail::ScheduleOf<StepLR> {
 public:
  StepLR(Duration step_size, double gamma = 0.1) : step_(step_size), gamma_(gamma) {
    detail::require_positive(step_size, "StepLR");
    detail::require(gamma > 0.0 && gamma <= 1.0, "StepLR gamma has to be in (0, 1], but got ", gamma);
  }
  double lr_at(std::int64_t t, double base_lr) const override {
    const std::int64_t decays = t / step_.count();  // floor: t >= 0
    return base_lr * std::pow(gamma_, static_cast<double>(decays));
  }
  ScheduleUnit unit() const override { return step_.unit(); }
  std::string describe() const override {
    return detail::concat("x", gamma_, " every ", step_.str());
  }

 private:
  Duration step_;
  double gamma_;
};

// PyTorch's MultiStepLR: lr = base_lr * gamma^(number of milestones <= t). Milestones increase and
// share one unit.
class MultiStepLR final : public detail::ScheduleOf<MultiStepLR> {
 public:
  MultiStepLR(std::vector<Duration> milestones, double gamma = 0.1)
      : milestones_(std::move(milestones)), gamma_(gamma) {
    detail::require(!milestones_.empty(), "MultiStepLR needs at least one milestone");
    for (std::size_t i = 0; i < milestones_.size(); ++i) {
      detail::require(milestones_[i].unit() == milestones_[0].unit(), "MultiStepLR milestones mix steps and epochs");
      detail::require(milestones_[i].count() > (i == 0 ? 0 : milestones_[i - 1].count()),
                      "MultiStepLR milestones have to be positive and increasing, but got ", milestones_[i].str());
    }
    detail::require(gamma > 0.0 && gamma <= 1.0, "MultiStepLR gamma has to be in (0, 1], but got ", gamma);
  }
  double lr_at(std::int64_t t, double base_lr) const override {
    int passed = 0;
    for (const auto& m : milestones_) passed += t >= m.count() ? 1 : 0;
    return base_lr * std::pow(gamma_, passed);
  }
  ScheduleUnit unit() const override { return milestones_[0].unit(); }
  std::string describe() const override {
    std::string at;
    for (const auto& m : milestones_) at += (at.empty() ? "" : ", ") + std::to_string(m.count());
    return detail::concat("x", gamma_, " at ", at, milestones_[0].unit() == ScheduleUnit::Step ? " steps" : " epochs");
  }

 private:
  std::vector<Duration> milestones_;
  double gamma_;
};

// PyTorch's CosineAnnealingLR (its closed form, which the recursive one follows):
//   lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2     for every t,
// so after T_max the rate rises again (a period of 2 T_max). eta_min is an absolute rate.
class CosineAnnealingLR final : public detail::ScheduleOf<CosineAnnealingLR> {
 public:
  explicit CosineAnnealingLR(Duration t_max, double eta_min = 0.0) : CosineAnnealingLR(t_max, eta_min, "CosineAnnealingLR") {}
  double lr_at(std::int64_t t, double base_lr) const override {
    // One period (2 T_max) exactly in integers first: near 2^63 steps, t / T_max in double had lost
    // the digits that say where in the period t is.
    const std::int64_t t_max = t_max_.count();
    const std::int64_t phase = t_max <= std::numeric_limits<std::int64_t>::max() / 2 ? t % (2 * t_max) : t;
    const double progress = static_cast<double>(phase) / static_cast<double>(t_max);
    return eta_min_ + (base_lr - eta_min_) * 0.5 * (1.0 + std::cos(detail::kPi * progress));
  }
  ScheduleUnit unit() const override { return t_max_.unit(); }
  std::string describe() const override {
    return detail::concat("cosine annealing to ", eta_min_, " over ", t_max_.str(), " (periodic after)");
  }

 private:
  friend class CosineDecayLR;
  // `who`: the schedule the user made, for the messages (CosineDecayLR holds one of these).
  CosineAnnealingLR(Duration t_max, double eta_min, const char* who) : t_max_(t_max), eta_min_(eta_min) {
    detail::require_positive(t_max, who);
    detail::require(eta_min >= 0.0 && std::isfinite(eta_min), who, " eta_min has to be >= 0, but got ", eta_min);
  }

  Duration t_max_;
  double eta_min_;
};

// The holding variant (Keras' CosineDecay): the cosine of CosineAnnealingLR until T, then eta_min.
class CosineDecayLR final : public detail::ScheduleOf<CosineDecayLR> {
 public:
  explicit CosineDecayLR(Duration decay, double eta_min = 0.0)
      : cosine_(decay, eta_min, "CosineDecayLR"), end_(decay.count()), eta_min_(eta_min) {}
  double lr_at(std::int64_t t, double base_lr) const override {
    return t >= end_ ? eta_min_ : cosine_.lr_at(t, base_lr);
  }
  ScheduleUnit unit() const override { return cosine_.unit(); }
  std::string describe() const override {
    return detail::concat("cosine decay to ", eta_min_, " over ", cosine_.t_max_.str(), ", then held");
  }

 private:
  CosineAnnealingLR cosine_;
  std::int64_t end_;
  double eta_min_;
};

// PyTorch's SequentialLR: schedule k runs from milestone k-1 on, with its own clock restarted:
//   lr(t) = schedule_k.lr_at(t - milestone_{k-1}, base_lr)  for milestone_{k-1} <= t < milestone_k.
//   SequentialLR(LinearLR(0.01, 1.0, Steps{500})).then(Steps{500}, CosineAnnealingLR(Steps{9500}))
// is a linear warmup over 500 steps followed by a cosine. All parts share one unit.
class SequentialLR final : public detail::ScheduleOf<SequentialLR> {
 public:
  explicit SequentialLR(const Schedule& first) { parts_.push_back({0, cloned(first)}); }
  SequentialLR(const SequentialLR& o) {
    for (const auto& p : o.parts_) parts_.push_back({p.start, cloned(*p.schedule)});
  }
  SequentialLR& operator=(const SequentialLR& o) {
    SequentialLR copy(o);
    parts_.swap(copy.parts_);
    return *this;
  }

  // From time `at` on, `next` takes over (starting at its own t = 0).
  SequentialLR& then(Duration at, const Schedule& next) {
    detail::require(at.unit() == unit() && next.unit() == unit(),
                    "SequentialLR parts and milestones have to share one unit (steps or epochs)");
    detail::require(at.count() > parts_.back().start, "SequentialLR milestones have to increase, but got ",
                    at.str(), " after ", parts_.back().start);
    parts_.push_back({at.count(), cloned(next)});
    return *this;
  }

  double lr_at(std::int64_t t, double base_lr) const override {
    std::size_t k = 0;
    while (k + 1 < parts_.size() && t >= parts_[k + 1].start) ++k;
    return parts_[k].schedule->lr_at(t - parts_[k].start, base_lr);
  }
  ScheduleUnit unit() const override { return parts_.front().schedule->unit(); }
  std::string describe() const override {
    std::string text = parts_.front().schedule->describe();
    for (std::size_t k = 1; k < parts_.size(); ++k) {
      text += detail::concat(", then from ", parts_[k].start, unit() == ScheduleUnit::Step ? " steps: " : " epochs: ",
                             parts_[k].schedule->describe());
    }
    return text;
  }

 private:
  // (a user's schedule whose clone() returns nullptr crashed at the first rate; the Trainer checks its own)
  static std::unique_ptr<Schedule> cloned(const Schedule& schedule) {
    std::unique_ptr<Schedule> copy = schedule.clone();
    detail::require(copy != nullptr, "SequentialLR: the clone() of ", schedule.describe(), " returned nullptr");
    return copy;
  }
  struct Part {
    std::int64_t start;
    std::unique_ptr<Schedule> schedule;
  };
  std::vector<Part> parts_;
};

}  // namespace mlp
