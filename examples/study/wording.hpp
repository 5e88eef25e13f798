// How the report puts numbers into words. Every comparison between two experiments goes through
// compare(), which says "higher" or "lower" only when the 95% interval of the paired difference
// excludes 0, "not detectably different" when it includes 0, and claims nothing with one seed. The
// observations never compare single numbers themselves (tests/study/test_study_report.cpp feeds
// them results without effects and checks that no comparative word appears).
#pragma once

#include <mlp_app/stats.hpp>

#include <cmath>
#include <cctype>
#include <cstdio>
#include <string>

namespace study {

// A number that rounds to zero at the shown precision prints without a sign ("0.00", not "-0.00"
// or "+0.00"): a sign there would claim a direction the shown digits do not have. The sign is the
// one that starts the number (not an exponent's), so a format's own text around it is left alone.
inline std::string drop_sign_of_zero(std::string text) {
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const bool starts_number = (text[i] == '-' || text[i] == '+') && (i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1])));
    if (!starts_number || !std::isdigit(static_cast<unsigned char>(text[i + 1]))) continue;
    std::size_t end = i + 1;
    bool zero = true;
    for (; end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'); ++end) {
      zero = zero && (text[end] == '0' || text[end] == '.');
    }
    if (zero) text.erase(i, 1);
    return text;
  }
  return text;
}

// printf formatting of one value into a string of whatever length it needs (a fixed buffer cut
// long numbers and the unit after them).
inline std::string fmt(const char* format, double v) {
  const int length = std::snprintf(nullptr, 0, format, v);
  if (length <= 0) return "";
  std::string text(static_cast<std::size_t>(length) + 1, '\0');
  std::snprintf(&text[0], text.size(), format, v);
  text.pop_back();  // the terminating null
  return drop_sign_of_zero(text);
}
inline std::string pct(double v) { return std::isfinite(v) ? fmt("%.2f%%", 100.0 * v) : "-"; }
inline std::string loss4(double v) { return std::isfinite(v) ? fmt("%.4f", v) : "-"; }
// Seconds with the digits that matter: a quick run's epochs too, and beyond a million seconds
// (11 days: no cell of this study) three significant digits rather than a long row of them.
inline std::string secs(double v) {
  if (!std::isfinite(v)) return "-";
  return fmt(v < 1 ? "%.2f s" : v < 10 ? "%.1f s" : v < 1e6 ? "%.0f s" : "%.3g s", v);
}
inline std::string count_text(double v) { return std::isfinite(v) ? fmt(v == std::floor(v) ? "%.0f" : "%.1f", v) : "-"; }

// "1 epoch", "3 epochs": a count with its noun in the right number.
inline std::string count_noun(long long n, const std::string& singular, const std::string& plural = "") {
  return std::to_string(n) + " " + (n == 1 ? singular : plural.empty() ? singular + "s" : plural);
}
// "2 of 5 seeds", "0 of 1 seed": how many of the seeds something happened in.
inline std::string of_seeds(long long k, std::size_t n) {
  return std::to_string(k) + " of " + count_noun(static_cast<long long>(n), "seed");
}
// What a mean is over: "means over seeds", or "one seed" where there is nothing to average (the
// counts are said where the numbers are; two experiments' seeds may differ in number).
inline std::string means_over(std::size_t n, const char* what = "means") {
  return n == 1 ? "one seed" : std::string(what) + " over seeds";
}

// How a quantity is shown: scaled (accuracy in percent), with a format and a unit.
struct Units {
  double scale = 1.0;
  const char* format = "%.4f";  // a value
  const char* unit = "";        // after a value or difference: "%", " pp", " s", " epochs"
  const char* diff_unit = "";
  double limit = 0.0;           // the largest possible size of a difference, unscaled; 0: none
};
inline const Units kAccuracy{100.0, "%.2f", "%", " pp", 1.0};  // two accuracies differ by at most 100 pp
inline const Units kLoss{1.0, "%.4f", "", ""};
inline const Units kSeconds{1.0, "%.1f", " s", " s"};
inline const Units kEpochSeconds{1.0, "%.2f", " s", " s"};  // an epoch of a small MLP: under a second
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

// "1 epoch", "3 epochs", "2-3 (mean 2.5) epochs": epochs over seeds, with the noun in the right number.
inline std::string epochs_text(const mlp::app::SampleSummary& s) {
  return range_text(s) + (s.min == 1.0 && s.max == 1.0 ? " epoch" : " epochs");
}

// Every seed gave the same difference (up to rounding): the t interval then has no width, which
// says that the seeds did not vary the difference, not that it is known exactly. Such a difference
// gets no interval and no verdict, as with one seed.
inline bool no_spread(const mlp::app::MeanInterval& d) {
  return d.has_interval() && d.hi - d.lo <= 1e-9 * std::abs(d.mean);
}

// The direction an interval shows: +1 above 0, -1 below, 0 when it includes 0, is missing or has
// no spread. Every verdict and claim of the report goes through it (not MeanInterval::sign()).
inline int effect_sign(const mlp::app::MeanInterval& d) { return no_spread(d) ? 0 : d.sign(); }

// With few seeds an interval can reach past what is possible (two accuracies differ by at most
// 100 pp); it is printed as computed, with this note, rather than clipped.
inline std::string beyond_limit_text(const mlp::app::MeanInterval& d, const Units& u) {
  if (u.limit <= 0.0 || !d.has_interval() || (d.lo >= -u.limit && d.hi <= u.limit)) return "";
  return "wider than the possible -" + fmt("%.0f", u.scale * u.limit) + " to +" + fmt("%.0f", u.scale * u.limit) +
         u.diff_unit + ": too few seeds to bound it";
}

// "+0.31 pp [+0.05, +0.57]" for tables; "+0.31 pp (one seed, no interval)" with one seed;
// "+0.10 pp in every seed (no spread, no interval)" when the seeds all gave the same difference.
inline std::string interval_cell(const mlp::app::MeanInterval& d, const Units& u) {
  if (d.n == 0) return "-";
  if (!d.has_interval()) return signed_text(d.mean, u) + " (one seed, no interval)";
  if (no_spread(d)) return signed_text(d.mean, u) + " in every seed (no spread, no interval)";
  Units bare = u;  // the unit once, after the mean
  bare.diff_unit = "";
  const std::string beyond = beyond_limit_text(d, u);
  return signed_text(d.mean, u) + " [" + signed_text(d.lo, bare) + ", " + signed_text(d.hi, bare) + "]" +
         (beyond.empty() ? "" : " (" + beyond + ")");
}

// The verdict on a difference where `up_is_better` says which sign is an improvement.
inline std::string verdict(const mlp::app::MeanInterval& d, bool up_is_better) {
  if (d.n == 0) return "-";
  if (!d.has_interval()) return "one seed: no interval, no verdict";
  if (no_spread(d)) return "no spread across the " + std::to_string(d.n) + " seeds: no interval, no verdict";
  if (effect_sign(d) == 0) return "no difference detectable with " + std::to_string(d.n) + " seeds";
  return (effect_sign(d) > 0) == up_is_better ? "better" : "worse";
}

// A comparison with a reference, conditioned on the interval of the paired difference d:
//   "higher than the baseline's by 0.31 pp (95% CI +0.05 to +0.57 pp, 5 seeds)"
//   "not detectably different from the baseline's with 5 seeds (mean difference +0.10 pp, 95% CI -0.20 to +0.40 pp)"
//   "+0.10 pp from the baseline's with one seed, which shows no effect either way (no interval with one seed)"
//   "+0.10 pp from the baseline's in each of the 3 seeds (no spread across seeds, so no interval: ...)"
inline std::string compare(const mlp::app::MeanInterval& d, const Units& u, const std::string& up,
                           const std::string& down, const std::string& reference) {
  if (d.n == 0) return "not comparable with " + reference + " (no seed has both runs)";
  if (!d.has_interval()) {
    return signed_text(d.mean, u) + " from " + reference + " with one seed, which shows no effect either way "
           "(no interval with one seed)";
  }
  if (no_spread(d)) {
    const std::string shown = signed_text(d.mean, u);
    const bool zero = shown[0] != '+' && shown[0] != '-';  // a difference that rounds to 0 prints unsigned
    return (zero ? "the same as " + reference : shown + " from " + reference) + " in each of the " +
           std::to_string(d.n) + " seeds (no spread across seeds, so no interval: the seeds did not vary this "
           "difference, and it is not claimed as an effect)";
  }
  const std::string beyond = beyond_limit_text(d, u);
  const std::string ci = "95% CI " + signed_text(d.lo, u) + " to " + signed_text(d.hi, u) + (beyond.empty() ? "" : ", " + beyond);
  if (effect_sign(d) == 0) {
    return "not detectably different from " + reference + " with " + std::to_string(d.n) + " seeds (mean difference " +
           signed_text(d.mean, u) + ", " + ci + ")";
  }
  const std::string by = fmt(u.format, u.scale * std::abs(d.mean)) + u.diff_unit;  // the size without its sign
  return (effect_sign(d) > 0 ? up : down) + " than " + reference + " by " + by + " (" + ci + ", " + std::to_string(d.n) +
         " seeds)";
}

// Whether the interval shows an effect in the given direction (+1 up, -1 down).
inline bool shows(const mlp::app::MeanInterval& d, int direction) { return effect_sign(d) == direction; }

inline std::string seeds_text(std::size_t n) { return n == 1 ? "one seed" : std::to_string(n) + " seeds"; }

}  // namespace study
