// A picture of a data set: one row per class, its name on the left, then a few of its images,
// enlarged so a person can see them.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/data/dataset.hpp"
#include "mlp_app/bitmap_font.hpp"
#include "mlp_app/png.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace mlp::app {

// Draws `text` with its top-left corner at (x, y); each font pixel becomes scale x scale pixels.
inline void draw_text(Image& image, int x, int y, const std::string& text, int scale,
                      const std::uint8_t* colour) {
  for (const char c : text) {
    const internal::Glyph* g = internal::find_glyph(c);
    for (int row = 0; row < 7; ++row) {
      for (int col = 0; col < 5; ++col) {
        if (((g->rows[row] >> (4 - col)) & 1) == 0) continue;
        for (int dy = 0; dy < scale; ++dy) {
          for (int dx = 0; dx < scale; ++dx) {
            const int px = x + col * scale + dx, py = y + row * scale + dy;
            if (px < 0 || py < 0 || px >= image.width || py >= image.height) continue;
            std::copy(colour, colour + image.channels, image.at(px, py));
          }
        }
      }
    }
    x += 6 * scale;
  }
}

// The first `per_class` samples of each class among `indices`, drawn `scale` times enlarged.
inline Image make_sample_grid(const Dataset& data, const std::vector<Index>& indices, int per_class,
                              int scale) {
  detail::require(per_class > 0 && scale > 0, "make_sample_grid needs per_class > 0 and scale > 0, "
                  "got ", per_class, " and ", scale);
  const int classes = static_cast<int>(data.classes());
  const int h = static_cast<int>(data.shape.height), w = static_cast<int>(data.shape.width);
  const int text_scale = 2, gap = 4, margin = 8;
  std::size_t longest = 0;
  for (const auto& name : data.class_names) longest = std::max(longest, name.size());
  // Sized in double first: a long class name or a large scale asked for gigabytes (and overflowed int).
  constexpr double kLargestSide = 32767;  // what common image viewers and browsers still open
  const double wide = static_cast<double>(longest) * 6 * text_scale + 2 * margin +
                      per_class * (static_cast<double>(w) * scale + gap) + margin;
  const double tall = static_cast<double>(classes) * (static_cast<double>(h) * scale + gap) + 2 * margin;
  detail::require(wide <= kLargestSide && tall <= kLargestSide, "a picture of ", per_class, " images per class at scale ",
                  scale, " would be ", wide, " x ", tall, " pixels, more than ", kLargestSide,
                  " on a side (which many image viewers refuse): draw fewer images per class or a smaller scale");
  const int label_width = static_cast<int>(longest) * 6 * text_scale + 2 * margin;
  const int cell = h * scale + gap;
  Image image(label_width + per_class * (w * scale + gap) + margin, classes * cell + 2 * margin, 3,
              255);
  const std::uint8_t ink[3] = {30, 30, 30};
  std::vector<int> placed(static_cast<std::size_t>(classes), 0);
  for (Index i : indices) {
    const int c = data.labels[i];
    if (placed[static_cast<std::size_t>(c)] >= per_class) continue;
    const int x0 = label_width + placed[static_cast<std::size_t>(c)]++ * (w * scale + gap);
    const int y0 = margin + c * cell;
    const std::uint8_t* p = data.pixels.col(i).data();
    const int plane = h * w;
    for (int y = 0; y < h * scale; ++y) {
      for (int x = 0; x < w * scale; ++x) {
        const int source = (y / scale) * w + x / scale;
        std::uint8_t* out = image.at(x0 + x, y0 + y);
        for (int k = 0; k < 3; ++k) {
          out[k] = p[data.shape.channels == 3 ? k * plane + source : source];
        }
      }
    }
  }
  for (int c = 0; c < classes; ++c) {
    const int y = margin + c * cell + (h * scale - 7 * text_scale) / 2;
    draw_text(image, margin, y, data.class_names[static_cast<std::size_t>(c)], text_scale, ink);
  }
  return image;
}

}  // namespace mlp::app
