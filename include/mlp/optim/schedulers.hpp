// Learning-rate schedules as pure functions of the optimizer step (0 = the first update). The
// trainer is the only writer of the learning rate: lr = lr_scale * schedule.lr_at(step), where
// lr_scale is 1 unless a callback such as ReduceLROnPlateau lowered it.
#pragma once

#include "mlp/core/errors.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

namespace mlp {

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double lr_at(std::int64_t step) const = 0;
  virtual std::string describe() const = 0;
};

class ConstantLR final : public Schedule {
 public:
  explicit ConstantLR(double lr) : lr_(lr) {
    detail::require(std::isfinite(lr) && lr >= 0.0, "learning rate has to be >= 0, but got ", lr);
  }
  double lr_at(std::int64_t /*step*/) const override { return lr_; }
  std::string describe() const override { return detail::concat("constant ", lr_); }

 private:
  double lr_;
};

// PyTorch's CosineAnnealingLR, evaluated per step:
//   lr(s) = min_lr + (base_lr - min_lr) (1 + cos(pi s / total_steps)) / 2   for s <= total_steps,
// then min_lr. lr(0) = base_lr.
class CosineAnnealingLR final : public Schedule {
 public:
  CosineAnnealingLR(double base_lr, std::int64_t total_steps, double min_lr = 0.0)
      : base_(base_lr), min_(min_lr), total_(total_steps) {
    detail::require(total_steps > 0, "cosine schedule needs total_steps > 0, but got ", total_steps);
    detail::require(base_lr >= 0.0 && min_lr >= 0.0 && min_lr <= base_lr,
                    "cosine schedule needs 0 <= min_lr <= base_lr, but got base_lr=", base_lr,
                    " min_lr=", min_lr);
  }
  double lr_at(std::int64_t step) const override {
    if (step >= total_) return min_;
    const double progress = static_cast<double>(step) / static_cast<double>(total_);
    return min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  }
  std::string describe() const override {
    return detail::concat("cosine ", base_, " -> ", min_, " over ", total_, " steps");
  }

 private:
  double base_, min_;
  std::int64_t total_;
};

// Linear warmup, then cosine annealing over the remaining steps:
//   s < warmup:  lr = base_lr (s + 1) / warmup        (the last warmup step reaches base_lr)
//   s >= warmup: cosine from base_lr to min_lr over total_steps - warmup steps.
class WarmupCosineLR final : public Schedule {
 public:
  WarmupCosineLR(double base_lr, std::int64_t warmup_steps, std::int64_t total_steps,
                 double min_lr = 0.0)
      : base_(base_lr), warmup_(warmup_steps),
        cosine_(base_lr, std::max<std::int64_t>(total_steps - warmup_steps, 1), min_lr) {
    detail::require(warmup_steps >= 0 && warmup_steps < total_steps,
                    "warmup needs 0 <= warmup_steps < total_steps, but got ", warmup_steps,
                    " of ", total_steps);
  }
  double lr_at(std::int64_t step) const override {
    if (step < warmup_) return base_ * static_cast<double>(step + 1) / static_cast<double>(warmup_);
    return cosine_.lr_at(step - warmup_);
  }
  std::string describe() const override {
    return detail::concat("linear warmup over ", warmup_, " steps, then ", cosine_.describe());
  }

 private:
  double base_;
  std::int64_t warmup_;
  CosineAnnealingLR cosine_;
};

// PyTorch's StepLR: lr = base_lr * gamma^floor(step / step_size).
class StepLR final : public Schedule {
 public:
  StepLR(double base_lr, std::int64_t step_size, double gamma)
      : base_(base_lr), step_size_(step_size), gamma_(gamma) {
    detail::require(step_size > 0, "step decay needs step_size > 0, but got ", step_size);
    detail::require(gamma > 0.0 && gamma <= 1.0, "step decay gamma has to be in (0, 1], but got ",
                    gamma);
  }
  double lr_at(std::int64_t step) const override {
    const std::int64_t decays = step / step_size_;  // whole periods completed
    return base_ * std::pow(gamma_, static_cast<double>(decays));
  }
  std::string describe() const override {
    return detail::concat("step decay ", base_, " x ", gamma_, " every ", step_size_, " steps");
  }

 private:
  double base_;
  std::int64_t step_size_;
  double gamma_;
};

}  // namespace mlp
