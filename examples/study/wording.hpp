// How the report puts numbers into words. Every comparison between two experiments goes through
// compare(), which says "higher" or "lower" only when the 95% interval of the paired difference
// excludes 0, "not detectably different" when it includes 0, and claims nothing with one seed. The
// observations never compare single numbers themselves (tests/study/test_study_report.cpp feeds
// them results without effects and checks that no comparative word appears).
#pragma once

#include <mlp_app/stats.hpp>

#include <cmath>
#include <cstdio>
#include <string>

namespace study {

inline std::string fmt(const char* format, double v) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}
inline std::string pct(double v) { return std::isfinite(v) ? fmt("%.2f%%", 100.0 * v) : "-"; }
inline std::string loss4(double v) { return std::isfinite(v) ? fmt("%.4f", v) : "-"; }
inline std::string secs(double v) {
  return !std::isfinite(v) ? "-" : fmt(v < 1 ? "%.2f s" : v < 10 ? "%.1f s" : "%.0f s", v);  // a quick run's epochs too
}
inline std::string count_text(double v) { return std::isfinite(v) ? fmt(v == std::floor(v) ? "%.0f" : "%.1f", v) : "-"; }

// How a quantity is shown: scaled (accuracy in percent), with a format and a unit.
struct Units {
  double scale = 1.0;
  const char* format = "%.4f";  // a value
  const char* unit = "";        // after a value or difference: "%", " pp", " s", " epochs"
  const char* diff_unit = "";
};
inline const Units kAccuracy{100.0, "%.2f", "%", " pp"};
inline const Units kLoss{1.0, "%.4f", "", ""};
inline const Units kSeconds{1.0, "%.1f", " s", " s"};
inline const Units kEpochs{1.0, "%.1f", "", " epochs"};
inline const Units kCount{1.0, "%.1f", "", ""};

inline std::string value_text(double v, const Units& u) {
  return std::isfinite(v) ? fmt(u.format, u.scale * v) + u.unit : "-";
}
inline std::string signed_text(double d, const Units& u) {
  if (!std::isfinite(d)) return "-";
  const std::string f = std::string("%+") + (u.format + 1);
  return fmt(f.c_str(), u.scale * d) + u.diff_unit;
}

// "88.40% ± 0.31 pp (87.9-88.8%)" over seeds; "88.40% (one seed)" with one.
inline std::string mean_sd(const mlp::app::SampleSummary& s, const Units& u, bool range = true) {
  if (s.n == 0) return "-";
  if (s.n == 1) return value_text(s.mean, u) + " (one seed)";
  std::string text = value_text(s.mean, u) + " ± " + fmt(u.format, u.scale * s.sd) + u.diff_unit;
  if (range) text += " (" + fmt(u.format, u.scale * s.min) + "-" + value_text(s.max, u) + ")";
  return text;
}

// "6-11 (mean 8.2)" for whole numbers such as epochs over seeds; "6" when all seeds agree.
inline std::string range_text(const mlp::app::SampleSummary& s) {
  if (s.n == 0) return "-";
  if (s.min == s.max) return count_text(s.min);
  return count_text(s.min) + "-" + count_text(s.max) + " (mean " + fmt("%.1f", s.mean) + ")";
}

// "+0.31 pp [+0.05, +0.57]" for tables; "+0.31 pp (one seed, no interval)" with one seed.
inline std::string interval_cell(const mlp::app::MeanInterval& d, const Units& u) {
  if (d.n == 0) return "-";
  if (!d.has_interval()) return signed_text(d.mean, u) + " (one seed, no interval)";
  Units bare = u;  // the unit once, after the mean
  bare.diff_unit = "";
  return signed_text(d.mean, u) + " [" + signed_text(d.lo, bare) + ", " + signed_text(d.hi, bare) + "]";
}

// The verdict on a difference where `up_is_better` says which sign is an improvement.
inline std::string verdict(const mlp::app::MeanInterval& d, bool up_is_better) {
  if (d.n == 0) return "-";
  if (!d.has_interval()) return "one seed: no interval, no verdict";
  if (d.sign() == 0) return "no difference detectable with " + std::to_string(d.n) + " seeds";
  return (d.sign() > 0) == up_is_better ? "better" : "worse";
}

// A comparison with a reference, conditioned on the interval of the paired difference d:
//   "higher than the baseline's by 0.31 pp (95% CI +0.05 to +0.57 pp, 5 seeds)"
//   "not detectably different from the baseline's with 5 seeds (mean difference +0.10 pp, 95% CI -0.20 to +0.40 pp)"
//   "+0.10 pp from the baseline's with one seed, which shows no effect either way (no interval with one seed)"
inline std::string compare(const mlp::app::MeanInterval& d, const Units& u, const std::string& up,
                           const std::string& down, const std::string& reference) {
  if (d.n == 0) return "not comparable with " + reference + " (no seed has both runs)";
  if (!d.has_interval()) {
    return signed_text(d.mean, u) + " from " + reference + " with one seed, which shows no effect either way "
           "(no interval with one seed)";
  }
  const std::string ci = "95% CI " + signed_text(d.lo, u) + " to " + signed_text(d.hi, u);
  if (d.sign() == 0) {
    return "not detectably different from " + reference + " with " + std::to_string(d.n) + " seeds (mean difference " +
           signed_text(d.mean, u) + ", " + ci + ")";
  }
  const std::string by = signed_text(std::abs(d.mean), u).substr(1);  // the size without its sign
  return (d.sign() > 0 ? up : down) + " than " + reference + " by " + by + " (" + ci + ", " + std::to_string(d.n) +
         " seeds)";
}

// Whether the interval shows an effect in the given direction (+1 up, -1 down).
inline bool shows(const mlp::app::MeanInterval& d, int direction) { return d.sign() == direction; }

inline std::string seeds_text(std::size_t n) { return n == 1 ? "one seed" : std::to_string(n) + " seeds"; }

}  // namespace study
