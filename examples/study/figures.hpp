// The study's figures: one SVG per comparison (loss curves, validation accuracy, and the learning
// rate for the schedule comparison), plus the best model's confusion matrix and per-class accuracy.
#pragma once

#include "experiments.hpp"

#include <mlp_app/svg_charts.hpp>
#include <mlp_app/svg_plot.hpp>
#include <mlp_app/run.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace study {

using Results = std::map<std::string, mlp::app::RunResult>;  // by experiment id

inline std::vector<double> column(const mlp::History& h, double mlp::EpochLog::*field) {
  std::vector<double> v;
  for (const auto& e : h.epochs) v.push_back(e.*field);
  return v;
}

inline std::vector<double> epochs_of(const mlp::History& h) {
  std::vector<double> v;
  for (const auto& e : h.epochs) v.push_back(e.epoch);
  return v;
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

inline mlp::app::PlotFigure comparison_figure(const Comparison& c, const Results& results) {
  mlp::app::PlotFigure f;
  f.title = c.title;
  f.subtitle = "dashed: training, solid: validation";
  mlp::app::PlotPanel loss{"Loss", "epoch", "cross-entropy loss", {}, {}};
  mlp::app::PlotPanel acc{"Validation accuracy", "epoch", "accuracy (%)", {}, {}};
  mlp::app::PlotPanel lr{"Learning rate (last step of each epoch)", "epoch", "learning rate", {}, {}};
  for (std::size_t i = 0; i < c.runs.size(); ++i) {
    const auto it = results.find(c.runs[i].first);
    if (it == results.end()) continue;
    const mlp::History& h = it->second.history;
    const std::string colour = mlp::app::palette_colour(i);
    const std::string& label = c.runs[i].second;
    loss.series.push_back({label, epochs_of(h), column(h, &mlp::EpochLog::train_loss), colour, true});
    loss.series.push_back({label, epochs_of(h), column(h, &mlp::EpochLog::val_loss), colour, false});
    std::vector<double> val_acc = column(h, &mlp::EpochLog::val_acc);
    for (double& a : val_acc) a *= 100.0;
    acc.series.push_back({label, epochs_of(h), val_acc, colour, false});
    lr.series.push_back({label, epochs_of(h), column(h, &mlp::EpochLog::lr), colour, false});
    if (c.id == "early_stopping") {
      if (it->second.best_epoch > 0) {
        add_marker(loss, it->second.best_epoch, "best", colour);
      }
      if (h.stopped_early) add_marker(loss, static_cast<int>(h.epochs.size()), "stop", colour);
    }
  }
  f.panels = {loss, acc};
  if (c.lr_panel) f.panels.push_back(lr);
  return f;
}

// Writes figures/<comparison>.svg for every comparison whose runs exist, and the best model's
// confusion matrix and per-class accuracy. Returns the files written (relative to `out`).
inline std::vector<std::string> write_figures(const std::filesystem::path& out, const Results& results,
                                              const std::vector<std::string>& class_names) {
  std::vector<std::string> written;
  mlp::ensure_directory(out / "figures");
  for (const Comparison& c : all_comparisons()) {
    bool any = false;
    for (const auto& r : c.runs) any = any || results.count(r.first) > 0;
    if (!any) continue;
    mlp::app::write_svg(out / "figures" / (c.id + ".svg"), mlp::app::render_line_figure(comparison_figure(c, results)));
    written.push_back("figures/" + c.id + ".svg");
  }
  const auto best = results.find("best");
  if (best != results.end() && best->second.test_best.confusion.classes() > 0) {
    const auto& cm = best->second.test_best.confusion;
    mlp::app::write_svg(out / "figures" / "best_confusion.svg",
                   mlp::app::render_confusion_svg(cm, class_names, "Confusion matrix of the best model (test set)"));
    mlp::app::write_svg(out / "figures" / "best_per_class.svg",
                   mlp::app::render_class_accuracy_svg(cm, class_names, "Per-class test accuracy of the best model"));
    written.push_back("figures/best_confusion.svg");
    written.push_back("figures/best_per_class.svg");
  }
  return written;
}

}  // namespace study
