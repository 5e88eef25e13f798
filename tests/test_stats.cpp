#include "helpers.hpp"

#include <mlp_app/stats.hpp>

#include <cmath>

using mlp::app::mean_interval;
using mlp::app::regularized_incomplete_beta;
using mlp::app::student_t_cdf;
using mlp::app::student_t_quantile;
using mlp::app::summarize;

TEST_CASE("stats: summary of a sample (mean, sample standard deviation, range)") {
  const auto s = summarize({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0});
  CHECK(s.n == 8);
  CHECK(s.mean == doctest::Approx(5.0));
  CHECK(s.sd == doctest::Approx(std::sqrt(32.0 / 7.0)));  // n - 1 in the denominator
  CHECK(s.min == 2.0);
  CHECK(s.max == 9.0);
  const auto one = summarize({0.881});
  CHECK(one.mean == doctest::Approx(0.881));
  CHECK(std::isnan(one.sd));  // undefined with one value, not 0
  CHECK(std::isnan(summarize({}).mean));
  // Values close together far from zero: no cancellation.
  CHECK(summarize({1e9 + 1, 1e9 + 2, 1e9 + 3}).sd == doctest::Approx(1.0));
}

TEST_CASE("stats: the regularized incomplete beta function against closed forms") {
  // For whole a, b: I_x(a, b) = sum_{j=a}^{a+b-1} C(a+b-1, j) x^j (1-x)^(a+b-1-j).
  CHECK(regularized_incomplete_beta(2, 3, 0.5) == doctest::Approx(11.0 / 16.0).epsilon(1e-13));
  CHECK(regularized_incomplete_beta(1, 1, 0.3) == doctest::Approx(0.3).epsilon(1e-13));
  CHECK(regularized_incomplete_beta(3, 2, 0.9) == doctest::Approx(0.9477).epsilon(1e-12));
  CHECK(regularized_incomplete_beta(0.5, 0.5, 0.25) == doctest::Approx(2.0 / M_PI * std::asin(0.5)).epsilon(1e-12));
  CHECK(regularized_incomplete_beta(2, 3, 0.0) == 0.0);
  CHECK(regularized_incomplete_beta(2, 3, 1.0) == 1.0);
  CHECK_THROWS_WITH_AS(regularized_incomplete_beta(2, 3, 1.5), doctest::Contains("x in [0, 1], but got 1.5"),
                       mlp::InvalidArgument);
}

TEST_CASE("stats: Student's t CDF against closed forms for 1 and 2 degrees of freedom") {
  for (const double t : {-30.0, -2.0, -0.3, 0.0, 0.7, 1.0, 5.0, 400.0}) {
    INFO("t = " << t);
    CHECK(student_t_cdf(t, 1) == doctest::Approx(0.5 + std::atan(t) / M_PI).epsilon(1e-12));
    CHECK(student_t_cdf(t, 2) == doctest::Approx(0.5 + t / (2.0 * std::sqrt(2.0 + t * t))).epsilon(1e-12));
  }
}

TEST_CASE("stats: Student's t quantiles match the tables") {
  struct Row {
    double p, dof, t;
  };
  // Tabulated values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2; R's qt), 8 significant digits.
  for (const Row r : {Row{0.975, 1, 12.7062047}, Row{0.975, 2, 4.3026527}, Row{0.975, 4, 2.7764451},
                      Row{0.975, 9, 2.2621572}, Row{0.975, 29, 2.0452296}, Row{0.95, 2, 2.9199856},
                      Row{0.995, 3, 5.8409093}, Row{0.975, 1000, 1.9623391}, Row{0.9, 5, 1.4758840}}) {
    INFO("t(" << r.p << ", " << r.dof << ")");
    CHECK(student_t_quantile(r.p, r.dof) == doctest::Approx(r.t).epsilon(2e-8));
    CHECK(student_t_quantile(1.0 - r.p, r.dof) == doctest::Approx(-r.t).epsilon(2e-8));
  }
  CHECK(student_t_quantile(0.5, 3) == 0.0);
  CHECK(student_t_quantile(0.9999999, 1) == doctest::Approx(std::tan(M_PI * (0.9999999 - 0.5))).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(student_t_quantile(1.0, 3), doctest::Contains("p in (0, 1), but got 1"), mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(student_t_quantile(0.9, 0), doctest::Contains("degrees of freedom, but got 0"),
                       mlp::InvalidArgument);
}

TEST_CASE("stats: the 95% interval of a mean of paired differences, and its sign") {
  // 1..5: mean 3, sd sqrt(2.5), half width t(0.975, 4) * sqrt(2.5) / sqrt(5).
  const auto m = mean_interval({1, 2, 3, 4, 5});
  CHECK(m.n == 5);
  CHECK(m.mean == doctest::Approx(3.0));
  CHECK(m.lo == doctest::Approx(3.0 - 2.7764451 * std::sqrt(0.5)).epsilon(1e-8));
  CHECK(m.hi == doctest::Approx(3.0 + 2.7764451 * std::sqrt(0.5)).epsilon(1e-8));
  CHECK(m.sign() == 1);
  CHECK(mean_interval({-1, -2, -3, -4, -5}).sign() == -1);
  CHECK(mean_interval({-1, 1, -0.5, 0.7}).sign() == 0);  // includes zero: no detectable difference
  CHECK(mean_interval({0, 0, 0}).sign() == 0);           // identical runs: [0, 0] includes zero
  const auto single = mean_interval({0.4});
  CHECK_FALSE(single.has_interval());  // one seed: no interval, never a verdict
  CHECK(single.sign() == 0);
  CHECK(single.mean == doctest::Approx(0.4));
  const auto wide = mean_interval({1, 2, 3, 4, 5}, 0.99);
  CHECK(wide.hi - wide.lo > m.hi - m.lo);
}
