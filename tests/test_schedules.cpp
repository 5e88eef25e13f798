#include "helpers.hpp"

#include <mlp/optim/schedulers.hpp>

#include <cmath>

TEST_CASE("constant schedule") {
  const mlp::ConstantLR s(0.01);
  CHECK(s.lr_at(0) == 0.01);
  CHECK(s.lr_at(1000000) == 0.01);
}

TEST_CASE("cosine annealing at its first step and middle and last step and beyond") {
  const mlp::CosineAnnealingLR s(1e-3, 1000, 1e-5);
  CHECK(s.lr_at(0) == doctest::Approx(1e-3).epsilon(1e-15));
  CHECK(s.lr_at(500) == doctest::Approx((1e-3 + 1e-5) / 2).epsilon(1e-12));
  CHECK(s.lr_at(250) == doctest::Approx(1e-5 + (1e-3 - 1e-5) * (1 + std::cos(M_PI / 4)) / 2).epsilon(1e-12));
  CHECK(s.lr_at(999) == doctest::Approx(1e-5 + (1e-3 - 1e-5) * (1 + std::cos(M_PI * 0.999)) / 2).epsilon(1e-12));
  CHECK(s.lr_at(1000) == doctest::Approx(1e-5));
  CHECK(s.lr_at(5000) == doctest::Approx(1e-5));
  const mlp::CosineAnnealingLR to_zero(1e-3, 30 * 391);
  CHECK(to_zero.lr_at(30 * 391) == 0.0);
}

TEST_CASE("warmup then cosine: the first step and the warmup edge and the last step") {
  const mlp::WarmupCosineLR s(0.1, 10, 110, 0.0);
  CHECK(s.lr_at(0) == doctest::Approx(0.01));   // (0 + 1) / 10 of the base
  CHECK(s.lr_at(4) == doctest::Approx(0.05));
  CHECK(s.lr_at(9) == doctest::Approx(0.1));    // the last warmup step reaches the base rate
  CHECK(s.lr_at(10) == doctest::Approx(0.1));   // cosine starts at the base rate
  CHECK(s.lr_at(60) == doctest::Approx(0.05));  // half-way through the 100 cosine steps
  CHECK(s.lr_at(109) == doctest::Approx(0.1 * (1 + std::cos(M_PI * 0.99)) / 2));
  CHECK(s.lr_at(110) == doctest::Approx(0.0));
  CHECK_THROWS_WITH_AS(mlp::WarmupCosineLR(0.1, 10, 10), doctest::Contains("warmup needs"),
                       mlp::InvalidArgument);
}

TEST_CASE("step decay") {
  const mlp::StepLR s(0.1, 30, 0.5);
  CHECK(s.lr_at(0) == doctest::Approx(0.1));
  CHECK(s.lr_at(29) == doctest::Approx(0.1));
  CHECK(s.lr_at(30) == doctest::Approx(0.05));
  CHECK(s.lr_at(95) == doctest::Approx(0.0125));
  CHECK_THROWS_WITH_AS(mlp::StepLR(0.1, 0, 0.5), "step decay needs step_size > 0, but got 0",
                       mlp::InvalidArgument);
}
