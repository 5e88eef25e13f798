// Schedules against PyTorch 1.13's torch.optim.lr_scheduler: the rates of the first 16 steps with
// an SGD optimizer of lr 0.1, printed by Debian's python3-torch (the script is in the comment of
// each case). PyTorch's recursive forms carry round-off, hence the tolerance.
#include "helpers.hpp"

#include <mlp/optim/schedulers.hpp>
#include <mlp/train/trainer_checkpoint.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

// for t in range(16): out.append(opt.param_groups[0]['lr']); opt.step(); scheduler.step()
void check_sequence(const mlp::Schedule& s, const std::vector<double>& torch) {
  for (std::size_t t = 0; t < torch.size(); ++t) {
    INFO("t = ", t, ": ", s.describe());
    CHECK(s.lr_at(static_cast<std::int64_t>(t), 0.1) == doctest::Approx(torch[t]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("ConstantLR matches PyTorch's ConstantLR(factor=0.5, total_iters=3)") {
  check_sequence(mlp::ConstantLR(0.5, mlp::Epochs{3}),
                 {0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1});
}

TEST_CASE("LinearLR matches PyTorch's LinearLR(start_factor=0.25, end_factor=1.0, total_iters=4)") {
  check_sequence(mlp::LinearLR(0.25, 1.0, mlp::Steps{4}),
                 {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1});
}

TEST_CASE("StepLR and MultiStepLR match PyTorch's") {
  check_sequence(mlp::StepLR(mlp::Epochs{3}, 0.5),
                 {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125, 0.00625,
                  0.00625, 0.00625, 0.003125});
  check_sequence(mlp::MultiStepLR({mlp::Epochs{2}, mlp::Epochs{5}}, 0.1),
                 {0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001,
                  0.001, 0.001});
}

TEST_CASE("CosineAnnealingLR matches PyTorch's, rising again after T_max") {
  check_sequence(mlp::CosineAnnealingLR(mlp::Steps{5}, 0.001),
                 {0.1, 0.090546341221559898, 0.06579634122155989, 0.035203658778440096, 0.010453658778440105,
                  0.001, 0.010453658778440102, 0.035203658778440117, 0.065796341221559931,
                  0.090546341221559953, 0.1, 0.090546341221559981, 0.065796341221559945,
                  0.035203658778440138, 0.010453658778440116, 0.001});
}

TEST_CASE("CosineDecayLR follows the cosine, then holds eta_min") {
  const mlp::CosineDecayLR s(mlp::Steps{5}, 0.001);
  const mlp::CosineAnnealingLR cosine(mlp::Steps{5}, 0.001);
  for (std::int64_t t = 0; t <= 5; ++t) CHECK(s.lr_at(t, 0.1) == cosine.lr_at(t, 0.1));
  CHECK(s.lr_at(6, 0.1) == 0.001);
  CHECK(s.lr_at(1000, 0.1) == 0.001);
  CHECK(s.describe() == "cosine decay to 0.001 over 5 steps, then held");
  CHECK(mlp::CosineDecayLR(mlp::Epochs{1}).describe() == "cosine decay to 0 over 1 epoch, then held");
  // Its messages name it, not the cosine it holds.
  CHECK_THROWS_WITH_AS(mlp::CosineDecayLR(mlp::Steps{-1}), "CosineDecayLR needs a positive duration, but got -1 steps",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::CosineDecayLR(mlp::Steps{5}, -0.5), "CosineDecayLR eta_min has to be >= 0, but got -0.5",
                       mlp::InvalidArgument);
}

TEST_CASE("CosineAnnealingLR keeps its period at any step count") {
  const mlp::CosineAnnealingLR s(mlp::Steps{5}, 0.001);
  // Near 2^63 steps, t / T_max in double no longer said where in the period t is.
  const std::int64_t far = (std::numeric_limits<std::int64_t>::max() / 10) * 10;  // a multiple of the period 10
  for (std::int64_t t = 0; t < 10; ++t) CHECK(s.lr_at(far - 10 + t, 0.1) == doctest::Approx(s.lr_at(t, 0.1)).epsilon(1e-15));
  CHECK(mlp::Duration(mlp::Steps{1}).str() == "1 step");
  CHECK(mlp::Duration(mlp::Epochs{2}).str() == "2 epochs");
}

TEST_CASE("a checkpoint's schedule text of an older version (\"1 epochs\") still names the schedule") {
  const std::string now = mlp::StepLR(mlp::Epochs{1}, 0.5).describe();
  CHECK(now == "x0.5 every 1 epoch");
  CHECK(mlp::detail::same_schedule_text(now, now));
  CHECK(mlp::detail::same_schedule_text("x0.5 every 1 epochs", now));  // written before 2026-12-06
  CHECK_FALSE(mlp::detail::same_schedule_text("x0.5 every 2 epochs", now));
  CHECK_FALSE(mlp::detail::same_schedule_text("x0.5 every 11 epochs", now));
  const std::string cosine = mlp::CosineDecayLR(mlp::Steps{1}).describe();
  CHECK(mlp::detail::same_schedule_text("cosine decay to 0 over 1 steps, then held", cosine));
}

TEST_CASE("SequentialLR matches PyTorch's: warmup with LinearLR, then a cosine with its own clock") {
  // SequentialLR(opt, [LinearLR(opt, 0.1, 1.0, 3), CosineAnnealingLR(opt, T_max=6)], milestones=[3])
  const mlp::SequentialLR s =
      mlp::SequentialLR(mlp::LinearLR(0.1, 1.0, mlp::Steps{3})).then(mlp::Steps{3}, mlp::CosineAnnealingLR(mlp::Steps{6}));
  check_sequence(s, {0.01, 0.04, 0.07, 0.1, 0.093301270189221949, 0.075, 0.05, 0.025000000000000012,
                     0.006698729810778065, 0.0, 0.006698729810778065, 0.025, 0.05, 0.075, 0.093301270189222019, 0.1});
  const mlp::SequentialLR copy = s;  // copies own their parts
  CHECK(copy.lr_at(7, 0.1) == s.lr_at(7, 0.1));
}

TEST_CASE("schedules scale the optimizer's base rate and say their unit") {
  const mlp::StepLR by_epoch(mlp::Epochs{10}, 0.1);
  CHECK(by_epoch.unit() == mlp::ScheduleUnit::Epoch);
  CHECK(by_epoch.lr_at(10, 0.5) == doctest::Approx(0.05));
  CHECK(by_epoch.describe() == "x0.1 every 10 epochs");
  CHECK(mlp::CosineAnnealingLR(mlp::Steps{100}).unit() == mlp::ScheduleUnit::Step);
}

TEST_CASE("schedules refuse bad arguments and mixed units") {
  CHECK_THROWS_WITH_AS(mlp::StepLR(mlp::Steps{0}, 0.5), "StepLR needs a positive duration, but got 0 steps",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::LinearLR(0.0, 1.0, mlp::Steps{3}), doctest::Contains("0 < start_factor <= 1"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::MultiStepLR({mlp::Steps{5}, mlp::Epochs{6}}), doctest::Contains("mix steps and epochs"),
                       mlp::InvalidArgument);
  mlp::SequentialLR s(mlp::LinearLR(0.1, 1.0, mlp::Steps{3}));
  CHECK_THROWS_WITH_AS(s.then(mlp::Epochs{3}, mlp::CosineAnnealingLR(mlp::Steps{6})), doctest::Contains("share one unit"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(s.then(mlp::Steps{0}, mlp::CosineAnnealingLR(mlp::Steps{6})), doctest::Contains("increase"),
                       mlp::InvalidArgument);
}
