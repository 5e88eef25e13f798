// bench_training's verdict on the targets of issue 14 (docs/performance.md): the fp32 training step
// of M and L at >= 85% of the GEMM peak and the CNN's at >= 60%, at every thread count measured, and
// L's bf16 step >= 1.6x as fast as its fp32 step. Each verdict says met, or by how much it is missed
// and how long the step would have to take; with --breakdown also where the step's time went (the
// matrix-product layers against the peak, then everything else by kind), which is why.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// Where the median training step's time went (--breakdown), in ms.
struct StepBreakdown {
  double products_ms = 0.0;     // the Linear and Conv2d layers, forward and backward
  double products_flops = 0.0;  // their matrix products' floating-point operations per step
  int threads = 0;              // the count the layer pass ran on, if not the row's (the governor's choice)
  // Everything else by kind (a layer's kind, the data loader, the loss, the optimizer's step).
  std::vector<std::pair<std::string, double>> rest;
  double total_ms() const {
    double t = products_ms;
    for (const auto& r : rest) t += r.second;
    return t;
  }
};

// One row of bench_training's table.
struct Measurement {
  std::string model;
  int threads = 1;
  std::string precision;   // "fp32" or "bf16"
  double step_ms = 0.0;    // an epoch's time over its steps (the loader and the trainer included)
  double of_peak = 0.0;    // the step's matrix-product rate over the fp32 GEMM peak (0.81 for 81%)
  double peak_gflops = 0.0;
  std::optional<StepBreakdown> breakdown;
  // The thread governor's switches during the row's epochs (the warm-up too) and the count it ended
  // on: after a switch the steps did not all run on `threads`, so the row judges no thread count.
  int governor_switches = 0;
  int governor_chosen = 0;
  std::string not_judged;  // why the row gets no verdict at all (a run that is not the protocol's), if so
};

namespace targets_impl {

inline const char* plural(int threads) { return threads == 1 ? "thread " : "threads"; }

// Why a row gets no verdict: it is not the protocol's run, or the thread governor moved its steps
// between thread counts; "" when it gets one.
inline std::string no_verdict_reason(const Measurement& m) {
  if (!m.not_judged.empty()) return m.not_judged;
  if (m.governor_switches <= 0) return "";
  char text[200];
  std::snprintf(text, sizeof text,
                "the thread governor switched the thread count %d time%s, ending on %d: other work took a core; "
                "--fixed-threads keeps %d",
                m.governor_switches, m.governor_switches == 1 ? "" : "s", m.governor_chosen, m.threads);
  return text;
}

// Prints "no verdict" for `row`'s `what` when `judged` (the row, or the fp32 row it is compared
// with, named `whose`) gets none; false when it gets one.
inline bool no_verdict(std::FILE* out, const Measurement& row, const char* what, const Measurement& judged,
                       const char* whose = "") {
  const std::string reason = no_verdict_reason(judged);
  if (reason.empty()) return false;
  std::fprintf(out, "  %-4s %d %s %s: no verdict (%s%s)\n", row.model.c_str(), row.threads, plural(row.threads), what,
               whose, reason.c_str());
  return true;
}

// "matrix-product layers 0.660 ms at 88% of the peak; the rest 0.059 ms (8% of the step): adam step
// 0.051, ...", with what the breakdown's medians do not account for.
inline void print_why(std::FILE* out, const Measurement& m) {
  if (!m.breakdown) {
    std::fprintf(out, "      (--breakdown says where the step's time goes)\n");
    return;
  }
  const StepBreakdown& b = *m.breakdown;
  std::vector<std::pair<std::string, double>> rest = b.rest;
  // The epoch's mean step against the breakdown's medians (another epoch, each part's median):
  // steps slower than the median (a noisy host) and the Trainer's bookkeeping; under 2%, noise.
  const double outside = m.step_ms - b.total_ms();
  if (outside > 0.02 * m.step_ms) {
    rest.emplace_back("the epoch's mean step over the medians (slow steps, the Trainer)", outside);
  }
  std::stable_sort(rest.begin(), rest.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  double rest_ms = 0.0;
  for (const auto& r : rest) rest_ms += r.second;
  std::fprintf(out, "      matrix-product layers %.3f ms", b.products_ms);
  if (b.threads > 0 && b.threads != m.threads) {
    // the peak was measured on m.threads threads
    std::fprintf(out, " (on %d thread%s, the thread governor's choice)", b.threads, b.threads == 1 ? "" : "s");
  } else if (b.products_ms > 0.0) {
    const double rate = b.products_flops / (b.products_ms * 1e6);  // GFLOP/s
    std::fprintf(out, " at %.0f%% of the peak", 100.0 * rate / m.peak_gflops);
  }
  std::fprintf(out, "; the rest %.3f ms", rest_ms);
  if (b.products_ms + rest_ms > 0.0) {
    std::fprintf(out, " (%.0f%% of the step)", 100.0 * rest_ms / (b.products_ms + rest_ms));
  }
  const char* sep = ": ";
  for (const auto& r : rest) {
    if (r.second < 0.0005) continue;
    std::fprintf(out, "%s%s %.3f", sep, r.first.c_str(), r.second);
    sep = ", ";
  }
  std::fprintf(out, "\n");
}

}  // namespace targets_impl

// The verdicts for the rows that have a target (M, L and the CNN); nothing when there is none.
inline void print_targets(std::FILE* out, const std::vector<Measurement>& rows) {
  const std::map<std::string, double> of_peak_target = {{"M", 0.85}, {"L", 0.85}, {"CNN", 0.60}};
  constexpr double kBf16Speedup = 1.6;
  bool header = false;
  const auto start = [&] {
    if (!header) std::fprintf(out, "\ntargets (issue 14; docs/performance.md says why they are missed):\n");
    header = true;
  };
  for (const Measurement& m : rows) {
    const auto target = of_peak_target.find(m.model);
    if (target == of_peak_target.end() || m.precision != "fp32") continue;
    start();
    if (targets_impl::no_verdict(out, m, "fp32 step", m)) continue;
    if (!(m.peak_gflops > 0.0 && m.step_ms > 0.0 && std::isfinite(m.of_peak))) {
      std::fprintf(out, "  %-4s %d %s fp32 step: no verdict (no step time or GEMM peak measured)\n", m.model.c_str(),
                   m.threads, targets_impl::plural(m.threads));
      continue;
    }
    // judged as printed, to a tenth of a point: "85.0%" is never "missed by 0.0 points"
    const double percent = std::round(1000.0 * m.of_peak) / 10.0, want = 100.0 * target->second;
    std::fprintf(out, "  %-4s %d %s fp32 step at %.1f%% of the GEMM peak, target %.0f%%: ", m.model.c_str(), m.threads,
                 targets_impl::plural(m.threads), percent, want);
    if (percent >= want) {
      std::fprintf(out, "met\n");
      continue;
    }
    std::fprintf(out, "missed by %.1f points (the step takes %.3f ms; %.3f ms would meet it)\n", want - percent,
                 m.step_ms, m.step_ms * percent / want);
    targets_impl::print_why(out, m);
  }
  for (const Measurement& bf16 : rows) {
    if (bf16.model != "L" || bf16.precision != "bf16") continue;
    const auto fp32 = std::find_if(rows.begin(), rows.end(), [&](const Measurement& m) {
      return m.model == bf16.model && m.threads == bf16.threads && m.precision == "fp32";
    });
    if (fp32 == rows.end()) continue;
    start();
    if (targets_impl::no_verdict(out, bf16, "bf16 step", bf16) ||
        targets_impl::no_verdict(out, bf16, "bf16 step", *fp32, "the fp32 row: ")) {
      continue;
    }
    if (!(bf16.step_ms > 0.0 && fp32->step_ms > 0.0)) {
      std::fprintf(out, "  %-4s %d %s bf16 step: no verdict (no step time measured)\n", bf16.model.c_str(),
                   bf16.threads, targets_impl::plural(bf16.threads));
      continue;
    }
    const double speedup = std::round(100.0 * fp32->step_ms / bf16.step_ms) / 100.0;  // as printed
    std::fprintf(out, "  %-4s %d %s bf16 step %.2fx as fast as fp32, target %.1fx: ", bf16.model.c_str(), bf16.threads,
                 targets_impl::plural(bf16.threads), speedup, kBf16Speedup);
    if (speedup >= kBf16Speedup) {
      std::fprintf(out, "met\n");
    } else {
      std::fprintf(out, "missed by %.2fx (the bf16 step takes %.3f ms; %.3f ms would meet it)\n",
                   kBf16Speedup - speedup, bf16.step_ms, fp32->step_ms / kBf16Speedup);
    }
  }
  if (header) std::fprintf(out, "  (the CNN against PyTorch, target 5x: benchmarks/compare_pytorch.py)\n");
}

}  // namespace bench
