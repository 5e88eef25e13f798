// Line charts as SVG files: a figure is a row of panels sharing one legend; each panel has axes
// with ticks and labels, a light grid, its series (solid or dashed) and optional vertical markers
// (e.g. "best epoch"). A series may carry a shaded band (e.g. the min-max over seeds around a mean
// curve), drawn under every line. Used for the training curves of the experiment study.
#pragma once

#include "mlp/io/atomic_file.hpp"
#include "mlp_app/svg.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace mlp::app {

struct PlotSeries {
  std::string label;      // legend entry (series with the same label share one entry)
  std::vector<double> x, y;
  std::string colour;     // e.g. palette_colour(i)
  bool dashed = false;
  std::vector<double> band_lo, band_hi;  // optional shaded band around y (same length as x)
};

struct PlotMarker {
  double x = 0.0;
  std::string label;      // written at the top of the line
  std::string colour = "#555555";
};

struct PlotPanel {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
  double y_min = std::numeric_limits<double>::quiet_NaN();  // fixed range when set
  double y_max = std::numeric_limits<double>::quiet_NaN();
  bool integer_x = true;  // x ticks at whole numbers (epochs)
};

struct PlotFigure {
  std::string title;
  std::string subtitle;        // one line under the title (e.g. what dashed and solid mean)
  std::vector<PlotPanel> panels;
  double panel_width = 430, panel_height = 300;
};

namespace internal {

inline void data_range(const PlotPanel& p, bool y_axis, double& lo, double& hi) {
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  for (const auto& s : p.series) {
    for (const auto* values : {y_axis ? &s.y : &s.x, y_axis ? &s.band_lo : &s.x, y_axis ? &s.band_hi : &s.x}) {
      for (const double v : *values) {
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
      }
    }
  }
  if (!y_axis) {
    for (const auto& m : p.markers) lo = std::min(lo, m.x), hi = std::max(hi, m.x);
  }
  if (!std::isfinite(lo)) lo = 0.0, hi = 1.0;
}

// The band of a series as an SVG polygon: along band_hi forwards, back along band_lo. Points
// where either bound is not finite are left out.
template <class Sx, class Sy>
std::string band_polygon(const PlotSeries& s, Sx sx, Sy sy) {
  const std::size_t n = std::min({s.x.size(), s.band_lo.size(), s.band_hi.size()});
  std::string upper, lower;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(s.band_lo[i]) || !std::isfinite(s.band_hi[i])) continue;
    upper += SvgWriter::num(sx(s.x[i])) + "," + SvgWriter::num(sy(s.band_hi[i])) + " ";
    lower = SvgWriter::num(sx(s.x[i])) + "," + SvgWriter::num(sy(s.band_lo[i])) + " " + lower;
  }
  if (upper.empty()) return "";
  return "<polygon points=\"" + upper + lower + "\" fill=\"" + s.colour + "\" fill-opacity=\"0.16\" stroke=\"none\"/>\n";
}

// Draws one panel into `svg`; its bands go to `underlay` (see render_line_figure).
inline void draw_panel(SvgWriter& svg, std::string& underlay, const PlotPanel& p, double left, double top,
                       double width, double height) {
  double xl, xh, yl, yh;
  data_range(p, false, xl, xh);
  data_range(p, true, yl, yh);
  if (std::isfinite(p.y_min)) yl = p.y_min;
  if (std::isfinite(p.y_max)) yh = p.y_max;
  const Ticks xt = nice_ticks(xl, xh, 6, p.integer_x ? 1.0 : 0.0);
  const Ticks yt = nice_ticks(yl, yh, 5);
  double label_width = 0;  // the widest y tick label decides where the plot area starts
  for (const double v : tick_values(yt)) label_width = std::max(label_width, text_width(tick_label(v, yt), 11));
  const double x0 = left + 34 + label_width, x1 = left + width - 14, y0 = top + height - 46, y1 = top + 26;
  // Epoch axes start at the first epoch, not at a rounded-down zero.
  const double xa = xl >= 1.0 && xt.lo < xl ? xl : xt.lo, xb = xt.hi;
  auto sx = [&](double v) { return x0 + (v - xa) / (xb - xa) * (x1 - x0); };
  auto sy = [&](double v) { return y0 - (v - yt.lo) / (yt.hi - yt.lo) * (y0 - y1); };
  auto sy_clamped = [&](double v) { return sy(std::clamp(v, yt.lo, yt.hi)); };
  for (const auto& s : p.series) underlay += band_polygon(s, sx, sy_clamped);

  svg.text((x0 + x1) / 2, top + 14, p.title, 13, "middle", "#222222", "bold");
  for (const double v : tick_values(yt)) {
    svg.line(x0, sy(v), x1, sy(v), "#e6e6e6");
    svg.text(x0 - 6, sy(v) + 4, tick_label(v, yt), 11, "end", "#444444");
  }
  for (const double v : tick_values(xt)) {
    if (v < xa - 1e-9) continue;
    svg.line(sx(v), y0, sx(v), y0 + 4, "#444444");
    svg.text(sx(v), y0 + 17, tick_label(v, xt), 11, "middle", "#444444");
  }
  svg.rect(x0, y1, x1 - x0, y0 - y1, "none", "#888888");
  svg.text((x0 + x1) / 2, y0 + 36, p.x_label, 12, "middle");
  svg.text(left + 16, (y0 + y1) / 2, p.y_label, 12, "middle", "#222222", "normal", -90);

  for (std::size_t k = 0; k < p.markers.size(); ++k) {  // labels on staggered lines: no overlap
    const auto& m = p.markers[k];
    svg.line(sx(m.x), y0, sx(m.x), y1, m.colour, 1.2, "3,3");
    svg.text(sx(m.x) + 3, y1 + 11 + 12.0 * static_cast<double>(k % 3), m.label, 10, "start", m.colour);
  }
  for (const auto& s : p.series) {
    std::string points;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double y = std::clamp(s.y[i], yt.lo, yt.hi);  // a fixed range clips, never spills
      points += SvgWriter::num(sx(s.x[i])) + "," + SvgWriter::num(sy(y)) + " ";
    }
    if (!points.empty()) svg.polyline(points, s.colour, 2.0, s.dashed ? "7,4" : "");
    if (s.x.size() == 1 && std::isfinite(s.y[0])) svg.circle(sx(s.x[0]), sy(std::clamp(s.y[0], yt.lo, yt.hi)), 3, s.colour);
  }
}

}  // namespace internal

inline std::string render_line_figure(const PlotFigure& f) {
  // One legend entry per distinct label, in order of appearance.
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& p : f.panels) {
    for (const auto& s : p.series) {
      if (s.label.empty()) continue;
      bool seen = false;
      for (const auto& l : legend) seen = seen || l.first == s.label;
      if (!seen) legend.push_back({s.label, s.colour});
    }
  }
  const double width = std::max<double>(static_cast<double>(f.panels.size()) * f.panel_width, 500.0);
  // Legend entries (swatch, label, gap) fill rows as wide as the figure allows, each row centred.
  std::vector<std::vector<std::size_t>> rows(1);
  std::vector<double> row_widths(1, 0.0);
  auto entry_width = [&](std::size_t i) { return 32 + text_width(legend[i].first, 12) + 24; };
  for (std::size_t i = 0; i < legend.size(); ++i) {
    if (!rows.back().empty() && row_widths.back() + entry_width(i) > width - 40) {
      rows.emplace_back();
      row_widths.push_back(0.0);
    }
    rows.back().push_back(i);
    row_widths.back() += entry_width(i);
  }
  const double header = 30 + (f.subtitle.empty() ? 0 : 18) + 22.0 * static_cast<double>(rows.size()) + 6;
  SvgWriter svg(width, header + f.panel_height);
  svg.text(width / 2, 22, f.title, 16, "middle", "#111111", "bold");
  double y = 30;
  if (!f.subtitle.empty()) {
    svg.text(width / 2, y + 12, f.subtitle, 12, "middle", "#444444");
    y += 18;
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    double lx = (width - row_widths[r]) / 2;
    const double ly = y + 14 + 22.0 * static_cast<double>(r);
    for (const std::size_t i : rows[r]) {
      svg.line(lx, ly - 4, lx + 26, ly - 4, legend[i].second, 3);
      svg.text(lx + 32, ly, legend[i].first, 12);
      lx += entry_width(i);
    }
  }
  std::string underlay;
  for (std::size_t k = 0; k < f.panels.size(); ++k) {
    internal::draw_panel(svg, underlay, f.panels[k], static_cast<double>(k) * f.panel_width, header,
                         f.panel_width, f.panel_height);
  }
  // Bands go under everything but the background, so that grid lines and curves stay visible on
  // top of them. SvgWriter has no polygon element and appends in drawing order, so they are put
  // in after its first element (the white background) once the figure is drawn.
  std::string text = svg.finish();
  const std::size_t background_end = text.find("/>\n", text.find("<rect"));
  if (!underlay.empty() && background_end != std::string::npos) text.insert(background_end + 3, underlay);
  return text;
}

inline void write_svg(const std::filesystem::path& path, const std::string& svg) {
  write_file_atomically(path, svg);
}

}  // namespace mlp::app
