// The shape of ONE sample as a layer sees it: channels x height x width. A dense feature vector of
// f values is {f, 1, 1}. A batch stays one column per sample, the sample's values in PyTorch's
// C, H, W order (index = c * H * W + y * W + x), so flattening an image costs nothing.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/types.hpp"

#include <string>

namespace mlp {

struct Shape {
  Index channels = 0;
  Index height = 1;
  Index width = 1;

  Shape() = default;
  Shape(Index c, Index h, Index w) : channels(c), height(h), width(w) {}
  static Shape flat(Index features) { return {features, 1, 1}; }

  Index size() const { return channels * height * width; }  // values per sample (rows of a batch)
  Index pixels() const { return height * width; }           // values per channel
  bool is_flat() const { return height == 1 && width == 1; }
  bool valid() const { return channels > 0 && height > 0 && width > 0; }

  // "256" for a feature vector, "32 x 14 x 14" for an image.
  std::string str() const {
    if (is_flat()) return std::to_string(channels);
    return detail::concat(channels, " x ", height, " x ", width);
  }
  // "256 features" or "32 x 14 x 14", for messages.
  std::string described() const { return is_flat() ? str() + " features" : str(); }

  bool operator==(const Shape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

}  // namespace mlp
