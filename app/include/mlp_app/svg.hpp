// A small SVG writer: the elements the plotting code needs, with text escaped, numbers rounded to
// what a screen can show, and a default font stack.
#pragma once

#include "mlp/core/utf8.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace mlp::app {

// Colour-blind safe palette (Okabe & Ito, 2008), in the order series use it.
inline const char* palette_colour(std::size_t i) {
  static const char* colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                  "#E69F00", "#56B4E9", "#000000", "#999999"};
  return colours[i % 8];
}

class SvgWriter {
 public:
  SvgWriter(double width, double height) {
    out_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" +
           num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
           "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
    rect(0, 0, width, height, "#ffffff", "none");
  }

  // Text for an SVG (XML, UTF-8) file: the markup characters escaped, control characters other
  // than a tab (which XML 1.0 forbids) dropped, and a byte that is not UTF-8, U+FFFE and U+FFFF
  // replaced by U+FFFD, so that a name a program was given cannot make the file unreadable.
  static std::string escape(const std::string& text) {
    std::string s;
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t valid = i + mlp::detail::first_non_xml_char(std::string_view(text).substr(i));
      for (; i < valid; ++i) {
        switch (text[i]) {
          case '&': s += "&amp;"; break;
          case '<': s += "&lt;"; break;
          case '>': s += "&gt;"; break;
          case '"': s += "&quot;"; break;
          default: s += text[i];
        }
      }
      if (i == text.size()) break;
      const auto b = static_cast<unsigned char>(text[i]);
      if (b < 0x80) {  // a control character: dropped
        ++i;
      } else {
        s += "\xef\xbf\xbd";  // U+FFFD for the byte, or for U+FFFE / U+FFFF (3 bytes)
        const bool noncharacter = mlp::detail::first_invalid_utf8(std::string_view(text).substr(i, 3)) >= 3 &&
                                  text.size() - i >= 3;
        i += noncharacter ? 3 : 1;
      }
    }
    return s;
  }
  static std::string num(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v);
    std::string s = text;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s == "-0" ? "0" : s;
  }

  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke,
            double stroke_width = 1.0) {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
            num(h) + "\" fill=\"" + fill + "\" stroke=\"" + stroke + "\" stroke-width=\"" +
            num(stroke_width) + "\"/>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1.0,
            const std::string& dash = "") {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
            num(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(width) + "\"" +
            (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + "/>\n";
  }
  // A polyline through the points "x,y x,y ...".
  void polyline(const std::string& points, const std::string& stroke, double width,
                const std::string& dash = "") {
    out_ += "<polyline fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" + num(width) +
            "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" +
            (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + " points=\"" + points + "\"/>\n";
  }
  void circle(double cx, double cy, double r, const std::string& fill) {
    out_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\" fill=\"" + fill + "\"/>\n";
  }
  // anchor: start, middle or end. rotate: degrees around (x, y).
  void text(double x, double y, const std::string& content, double size, const std::string& anchor = "start",
            const std::string& fill = "#222222", const std::string& weight = "normal", double rotate = 0.0) {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
            "\" text-anchor=\"" + anchor + "\" fill=\"" + fill + "\"" +
            (weight == "normal" ? "" : " font-weight=\"" + weight + "\"") +
            (rotate == 0.0 ? "" : " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"") +
            ">" + escape(content) + "</text>\n";
  }

  std::string finish() const { return out_ + "</svg>\n"; }

 private:
  std::string out_;
};

// Axis ticks at 1, 2 or 5 times a power of ten, covering [lo, hi] with about `target` intervals.
struct Ticks {
  double lo = 0.0, hi = 1.0, step = 0.2;
  int decimals = 1;
};

inline Ticks nice_ticks(double lo, double hi, int target = 5, double min_step = 0.0) {
  // (a range of -1e308 to 1e308 overflowed hi - lo to infinity: UB casting it, NaN coordinates)
  constexpr double kLargest = 1e300;
  lo = std::clamp(lo, -kLargest, kLargest);
  hi = std::clamp(hi, -kLargest, kLargest);
  if (!(hi > lo)) {  // flat or empty data: open a small range around it
    const double pad = lo == 0.0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double n = raw / magnitude;
  const double step = std::max((n < 1.5 ? 1.0 : n < 3.0 ? 2.0 : n < 7.0 ? 5.0 : 10.0) * magnitude, min_step);
  Ticks t;
  t.step = step;
  t.lo = std::floor(lo / step + 1e-9) * step;
  t.hi = std::ceil(hi / step - 1e-9) * step;
  t.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return t;
}

// The tick positions lo, lo + step, ..., hi, computed from an integer count (no drifting sums).
inline std::vector<double> tick_values(const Ticks& t) {
  std::vector<double> values;
  const auto n = static_cast<long long>(std::llround((t.hi - t.lo) / t.step));
  for (long long k = 0; k <= n; ++k) values.push_back(t.lo + static_cast<double>(k) * t.step);
  return values;
}

// Tick labels of one axis share a format: fixed decimals, or scientific notation for every tick
// when the step is below 0.001 (learning rates) or the values reach 1e15 (fixed notation printed 1e300
// as 31 digits cut short), with the digits that tell the ticks apart.
inline std::string tick_label(double v, const Ticks& t) {
  char text[40];
  if (std::abs(v) < t.step * 1e-6) v = 0.0;
  const double largest = std::max(std::abs(t.lo), std::abs(t.hi));
  if (largest >= 1e15) {
    const int digits = std::clamp(static_cast<int>(std::floor(std::log10(largest)) - std::floor(std::log10(t.step))), 1, 16);
    std::snprintf(text, sizeof text, "%.*e", digits, v);
  } else if (t.decimals > 3) {
    std::snprintf(text, sizeof text, "%.1e", v);
  } else {
    std::snprintf(text, sizeof text, "%.*f", t.decimals, v);
  }
  return text;
}

// Rough width of a text in pixels (average glyph width of a sans-serif font).
inline double text_width(const std::string& text, double size) {
  return 0.6 * size * static_cast<double>(text.size());
}

}  // namespace mlp::app
