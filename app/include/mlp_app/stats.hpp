// Statistics of a study over seeds: the summary of a sample (mean, standard deviation, range), the
// Student t quantile, and the confidence interval of a mean of paired differences with the verdict
// it supports. Written here, not taken from a library, because the study needs only this much and
// the library's dependencies are Eigen and zlib.
//
// The t quantile inverts the t distribution's CDF, which is a regularized incomplete beta function:
//   for t >= 0, F(t; v) = 1 - I_x(v/2, 1/2) / 2  with x = v / (v + t^2),
// and I_x(a, b) is evaluated with its continued fraction (Lentz's method; Numerical Recipes 6.4).
#pragma once

#include "mlp/core/errors.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace mlp::app {

// Mean, sample standard deviation (n - 1 in the denominator), min and max of a sample. With one
// value the standard deviation is undefined (NaN); with none everything is.
struct SampleSummary {
  std::size_t n = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double sd = std::numeric_limits<double>::quiet_NaN();
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
};

inline SampleSummary summarize(const std::vector<double>& values) {
  SampleSummary s;
  s.n = values.size();
  if (values.empty()) return s;
  double sum = 0.0;
  for (const double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  if (s.n >= 2) {
    double squares = 0.0;  // two passes: no cancellation when the values are close together
    for (const double v : values) squares += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(squares / static_cast<double>(s.n - 1));
  }
  return s;
}

namespace internal {

// The continued fraction of I_x(a, b), converging fast for x < (a + 1) / (a + b + 2).
inline double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300, eps = 1e-16;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::abs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double md = m;
    for (const double coefficient : {md * (b - md) * x / ((a + 2 * md - 1) * (a + 2 * md)),
                                      -(a + md) * (a + b + md) * x / ((a + 2 * md) * (a + 2 * md + 1))}) {
      d = 1.0 + coefficient * d;
      if (std::abs(d) < tiny) d = tiny;
      c = 1.0 + coefficient / c;
      if (std::abs(c) < tiny) c = tiny;
      d = 1.0 / d;
      h *= d * c;
      if (std::abs(d * c - 1.0) < eps) return h;
    }
  }
  return h;  // not reached for the arguments the t distribution uses
}

}  // namespace internal

// The regularized incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
inline double regularized_incomplete_beta(double a, double b, double x) {
  detail::require(a > 0.0 && b > 0.0, "the incomplete beta function needs a, b > 0, but got ", a, ", ", b);
  detail::require(x >= 0.0 && x <= 1.0, "the incomplete beta function needs x in [0, 1], but got ", x);
  if (x == 0.0 || x == 1.0) return x;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) return front * internal::incomplete_beta_fraction(a, b, x) / a;
  return 1.0 - front * internal::incomplete_beta_fraction(b, a, 1.0 - x) / b;  // I_x(a,b) = 1 - I_{1-x}(b,a)
}

// P(T <= t) for Student's t distribution with `dof` degrees of freedom.
inline double student_t_cdf(double t, double dof) {
  detail::require(dof > 0.0, "Student's t needs positive degrees of freedom, but got ", dof);
  const double tail = 0.5 * regularized_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t));
  return t >= 0.0 ? 1.0 - tail : tail;
}

// The p-quantile of Student's t with `dof` degrees of freedom, by bisection on the CDF (which is
// increasing), to about 1e-12 relative. t(0.975, 4) = 2.7764451.
inline double student_t_quantile(double p, double dof) {
  detail::require(p > 0.0 && p < 1.0, "a quantile needs p in (0, 1), but got ", p);
  detail::require(dof > 0.0, "Student's t needs positive degrees of freedom, but got ", dof);
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -student_t_quantile(1.0 - p, dof);  // the distribution is symmetric
  double lo = 0.0, hi = 1.0;
  while (student_t_cdf(hi, dof) < p && hi < 1e300) lo = hi, hi *= 2.0;
  for (int i = 0; i < 400 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, dof) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// A mean with its two-sided confidence interval. With fewer than two values there is no interval
// (lo and hi are NaN).
struct MeanInterval {
  std::size_t n = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double lo = std::numeric_limits<double>::quiet_NaN();
  double hi = std::numeric_limits<double>::quiet_NaN();
  double level = 0.95;
  bool has_interval() const { return n >= 2; }
  // The interval lies entirely above (+1) or below (-1) zero; 0 when it includes zero or is missing.
  int sign() const {
    if (!has_interval()) return 0;
    return lo > 0.0 ? 1 : hi < 0.0 ? -1 : 0;
  }
};

// mean +- t(1 - (1 - level) / 2, n - 1) * sd / sqrt(n): the t interval of a mean, which for paired
// differences is the paired t interval.
inline MeanInterval mean_interval(const std::vector<double>& values, double level = 0.95) {
  detail::require(level > 0.0 && level < 1.0, "a confidence level has to be in (0, 1), but got ", level);
  const SampleSummary s = summarize(values);
  MeanInterval m;
  m.n = s.n;
  m.mean = s.mean;
  m.level = level;
  if (s.n < 2) return m;
  const double half = student_t_quantile(1.0 - (1.0 - level) / 2.0, static_cast<double>(s.n - 1)) * s.sd /
                      std::sqrt(static_cast<double>(s.n));
  m.lo = s.mean - half;
  m.hi = s.mean + half;
  return m;
}

}  // namespace mlp::app
