// The study's figures. For each comparison, figures/<comparison>.svg shows every run's mean curve
// over seeds with a shaded band from the lowest to the highest seed (validation curves), and
// figures/seed-<s>/<comparison>.svg the single runs of the first seed (with best-epoch and stop
// markers), as the single-seed study drew them. The confusion matrices are summed over seeds.
#pragma once

#include "aggregate.hpp"
#include "experiments.hpp"

#include <mlp_app/svg_charts.hpp>
#include <mlp_app/svg_plot.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace study {

// One curve over seeds: per epoch, the mean, min and max over the seeds that ran that epoch (an
// early-stopped seed ends early).
struct SeedCurve {
  std::vector<double> x, mean, lo, hi;
};

inline SeedCurve seed_curve(const SeedRuns& runs, double mlp::EpochLog::*field, double scale = 1.0) {
  SeedCurve c;
  for (std::size_t e = 0;; ++e) {
    std::vector<double> v;
    for (const auto& [seed, r] : runs) {
      if (e < r.history.epochs.size()) v.push_back(scale * (r.history.epochs[e].*field));
    }
    if (v.empty()) return c;
    const auto s = mlp::app::summarize(v);
    c.x.push_back(static_cast<double>(e + 1));
    c.mean.push_back(s.mean);
    c.lo.push_back(s.min);
    c.hi.push_back(s.max);
  }
}

inline mlp::app::PlotSeries mean_series(const std::string& label, const SeedCurve& c, const std::string& colour,
                                        bool dashed, bool band) {
  mlp::app::PlotSeries s{label, c.x, c.mean, colour, dashed, {}, {}};
  if (band) s.band_lo = c.lo, s.band_hi = c.hi;
  return s;
}

// A vertical marker "best 6"; when another run already marked the same epoch the same way, the
// two become one grey "best 6 (both)" instead of two labels printed over each other.
inline void add_marker(mlp::app::PlotPanel& panel, int epoch, const std::string& what, const std::string& colour) {
  const std::string label = what + " " + std::to_string(epoch);
  for (auto& m : panel.markers) {
    if (m.x == epoch && m.label == label) {
      m.label += " (both)";
      m.colour = "#555555";
      return;
    }
  }
  panel.markers.push_back({static_cast<double>(epoch), label, colour});
}

// The comparison over `runs` (all seeds, or one seed's runs only). With one run per experiment the
// bands are empty and the early-stopping markers are drawn.
inline mlp::app::PlotFigure comparison_figure(const Comparison& c, const StudyResults& R, std::size_t seeds) {
  mlp::app::PlotFigure f;
  f.title = c.title;
  f.subtitle = seeds > 1 ? "mean over " + std::to_string(seeds) + " seeds (band: lowest to highest seed, validation); "
                               "dashed: training, solid: validation"
                         : "dashed: training, solid: validation";
  mlp::app::PlotPanel loss{"Loss", "epoch", "cross-entropy loss", {}, {}};
  mlp::app::PlotPanel acc{"Validation accuracy", "epoch", "accuracy (%)", {}, {}};
  mlp::app::PlotPanel lr{"Learning rate (last step of each epoch)", "epoch", "learning rate", {}, {}};
  for (std::size_t i = 0; i < c.runs.size(); ++i) {
    const SeedRuns* runs = runs_of(R, c.runs[i].first);
    if (runs == nullptr) continue;
    const std::string colour = mlp::app::palette_colour(i);
    const std::string& label = c.runs[i].second;
    const bool band = runs->size() > 1;
    loss.series.push_back(mean_series(label, seed_curve(*runs, &mlp::EpochLog::train_loss), colour, true, false));
    loss.series.push_back(mean_series(label, seed_curve(*runs, &mlp::EpochLog::val_loss), colour, false, band));
    acc.series.push_back(mean_series(label, seed_curve(*runs, &mlp::EpochLog::val_acc, 100.0), colour, false, band));
    lr.series.push_back(mean_series(label, seed_curve(*runs, &mlp::EpochLog::lr), colour, false, false));
    if (c.id == "early_stopping" && runs->size() == 1) {
      const auto& r = runs->begin()->second;
      if (r.best_epoch > 0) add_marker(loss, r.best_epoch, "best", colour);
      if (r.history.stopped_early) add_marker(loss, static_cast<int>(r.history.epochs.size()), "stop", colour);
    }
  }
  f.panels = {loss, acc};
  if (c.lr_panel) f.panels.push_back(lr);
  return f;
}

// The runs of one seed, as a StudyResults of one seed each.
inline StudyResults one_seed(const StudyResults& R, std::uint64_t seed) {
  StudyResults only;
  for (const auto& [id, runs] : R) {
    const auto it = runs.find(seed);
    if (it != runs.end()) only[id][seed] = it->second;
  }
  return only;
}

// The confusion matrices of an experiment's seeds, summed (empty if none has one).
inline mlp::ConfusionMatrix summed_confusion(const SeedRuns& runs) {
  mlp::ConfusionMatrix sum(0);
  for (const auto& [seed, r] : runs) {
    const auto& cm = r.test_best.confusion;
    if (cm.classes() == 0) continue;
    if (sum.classes() == 0) sum = mlp::ConfusionMatrix(cm.classes());
    if (cm.classes() != sum.classes()) continue;
    for (mlp::Index t = 0; t < cm.classes(); ++t) {
      for (mlp::Index p = 0; p < cm.classes(); ++p) sum.add_count(t, p, cm.count(t, p));
      sum.add_unpredicted(t, cm.unpredicted(t));
    }
  }
  return sum;
}

// A confusion matrix summed over an experiment's seeds, as figures/<name>.svg.
inline void write_confusion(const std::filesystem::path& out, const SeedRuns& runs, const std::string& name,
                            const std::string& model, const std::vector<std::string>& class_names,
                            std::vector<std::string>& written, bool per_class) {
  const mlp::ConfusionMatrix cm = summed_confusion(runs);
  if (cm.classes() == 0) return;
  const std::string over = runs.size() > 1 ? " (test set, summed over " + std::to_string(runs.size()) + " seeds)" : " (test set)";
  mlp::app::write_svg(out / "figures" / (name + "_confusion.svg"),
                      mlp::app::render_confusion_svg(cm, class_names, "Confusion matrix of " + model + over));
  written.push_back("figures/" + name + "_confusion.svg");
  if (!per_class) return;
  mlp::app::write_svg(out / "figures" / (name + "_per_class.svg"),
                      mlp::app::render_class_accuracy_svg(cm, class_names, "Per-class test accuracy of " + model + over));
  written.push_back("figures/" + name + "_per_class.svg");
}

// Writes the figures (see the top of this file) for the comparisons whose runs exist. Returns the
// files written, relative to `out`.
inline std::vector<std::string> write_figures(const std::filesystem::path& out, const StudyResults& R,
                                              const std::vector<std::uint64_t>& seeds,
                                              const std::vector<std::string>& class_names) {
  std::vector<std::string> written;
  const std::string seed_folder = "seed-" + std::to_string(seeds.front());
  const StudyResults first = one_seed(R, seeds.front());
  mlp::ensure_directory(out / "figures");
  if (seeds.size() > 1) mlp::ensure_directory(out / "figures" / seed_folder);
  for (const Comparison& c : all_comparisons()) {
    const auto has = [&](const StudyResults& results) {
      return std::any_of(c.runs.begin(), c.runs.end(), [&](const auto& r) { return runs_of(results, r.first) != nullptr; });
    };
    if (has(R)) {
      mlp::app::write_svg(out / "figures" / (c.id + ".svg"),
                          mlp::app::render_line_figure(comparison_figure(c, R, seeds.size())));
      written.push_back("figures/" + c.id + ".svg");
    }
    if (seeds.size() > 1 && has(first)) {
      mlp::app::write_svg(out / "figures" / seed_folder / (c.id + ".svg"),
                          mlp::app::render_line_figure(comparison_figure(c, first, 1)));
      written.push_back("figures/" + seed_folder + "/" + c.id + ".svg");
    }
  }
  if (const SeedRuns* best = runs_of(R, "best")) write_confusion(out, *best, "best", "the best model", class_names, written, true);
  if (const SeedRuns* cnn = runs_of(R, "cnn")) write_confusion(out, *cnn, "cnn", "the CNN", class_names, written, false);
  if (const SeedRuns* m = runs_of(R, "mlp_matched")) {
    write_confusion(out, *m, "mlp_matched", "the matched MLP", class_names, written, false);
  }
  return written;
}

}  // namespace study
