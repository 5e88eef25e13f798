// Two more SVG charts for classification results: a confusion matrix as a heat map (row-normalized
// colour, counts written in the cells) and horizontal bars of per-class accuracy.
#pragma once

#include "mlp_app/svg.hpp"
#include "mlp/train/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace mlp::app {

inline std::string render_confusion_svg(const ConfusionMatrix& cm, const std::vector<std::string>& names,
                                        const std::string& title) {
  const auto k = static_cast<std::size_t>(cm.classes());
  // Samples whose logits had a NaN predict no class (ConfusionMatrix::unpredicted): they get a column
  // of their own, only when there are some, so that a row's cells still add up to its samples.
  Index unpredicted = 0;
  for (std::size_t t = 0; t < k; ++t) unpredicted += cm.unpredicted(static_cast<Index>(t));
  const std::size_t columns = k + (unpredicted > 0 ? 1 : 0);
  const double cell = 46, left = 130, top = 70, bottom = 110;
  const double width = left + cell * static_cast<double>(columns) + 30;
  const double height = top + cell * static_cast<double>(k) + bottom;
  SvgWriter svg(width, height);
  svg.text(width / 2, 24, title, 16, "middle", "#111111", "bold");
  svg.text(width / 2, 44, "rows: true class, columns: predicted class; colour: share of the row", 12,
           "middle", "#444444");
  const auto count = [&cm, k](std::size_t t, std::size_t p) {
    return p < k ? cm.count(static_cast<Index>(t), static_cast<Index>(p)) : cm.unpredicted(static_cast<Index>(t));
  };
  for (std::size_t t = 0; t < k; ++t) {
    Index row_total = 0;
    for (std::size_t p = 0; p < columns; ++p) row_total += count(t, p);
    for (std::size_t p = 0; p < columns; ++p) {
      const Index n = count(t, p);
      const double share = row_total > 0 ? static_cast<double>(n) / static_cast<double>(row_total) : 0.0;
      // White to the palette's blue (0, 114, 178), by the square root so small confusions show.
      const double a = std::sqrt(share);
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", static_cast<int>(255 - a * 255),
                    static_cast<int>(255 - a * (255 - 114)), static_cast<int>(255 - a * (255 - 178)));
      const double x = left + cell * static_cast<double>(p), y = top + cell * static_cast<double>(t);
      svg.rect(x, y, cell, cell, fill, "#ffffff");
      svg.text(x + cell / 2, y + cell / 2 + 4, std::to_string(n), 11, "middle", a > 0.6 ? "#ffffff" : "#222222");
    }
    const std::string& name = t < names.size() ? names[t] : std::to_string(t);
    svg.text(left - 8, top + cell * (static_cast<double>(t) + 0.5) + 4, name, 12, "end");
  }
  for (std::size_t p = 0; p < columns; ++p) {
    const std::string name = p == k ? "no class (NaN)" : p < names.size() ? names[p] : std::to_string(p);
    svg.text(left + cell * (static_cast<double>(p) + 0.5) + 4, top + cell * static_cast<double>(k) + 10, name, 12,
             "end", "#222222", "normal", -45);
  }
  return svg.finish();
}

inline std::string render_class_accuracy_svg(const ConfusionMatrix& cm, const std::vector<std::string>& names,
                                             const std::string& title) {
  const auto k = static_cast<std::size_t>(cm.classes());
  const double bar = 26, left = 130, top = 56, plot = 420;
  SvgWriter svg(left + plot + 80, top + bar * static_cast<double>(k) + 50);
  svg.text((left + plot + 80) / 2, 24, title, 16, "middle", "#111111", "bold");
  for (int v = 0; v <= 100; v += 20) {
    const double x = left + plot * v / 100.0;
    svg.line(x, top - 6, x, top + bar * static_cast<double>(k), "#e6e6e6");
    svg.text(x, top + bar * static_cast<double>(k) + 18, std::to_string(v) + "%", 11, "middle", "#444444");
  }
  for (std::size_t c = 0; c < k; ++c) {
    const double acc = cm.class_accuracy(static_cast<Index>(c));
    const double y = top + bar * static_cast<double>(c);
    if (std::isnan(acc)) {  // no image of the class: no bar, rather than one of 0%
      svg.text(left + 6, y + bar / 2 + 4, "no images", 11, "start", "#666666");
    } else {
      svg.rect(left, y + 4, plot * acc, bar - 8, palette_colour(0), "none");
      char label[16];
      std::snprintf(label, sizeof label, "%.1f%%", 100.0 * acc);
      svg.text(left + plot * acc + 6, y + bar / 2 + 4, label, 11, "start", "#222222");
    }
    svg.text(left - 8, y + bar / 2 + 4, c < names.size() ? names[c] : std::to_string(c), 12, "end");
  }
  return svg.finish();
}

}  // namespace mlp::app
