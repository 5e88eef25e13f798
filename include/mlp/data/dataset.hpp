// An image classification data set held as bytes: one image per column.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mlp {

// Raw 8-bit pixels, features x N. Each column is one image in channel-major order
// (index = c * height * width + y * width + x), the order of IDX and CIFAR-10 files.
using Pixels = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

struct ImageShape {
  Index channels = 1;
  Index height = 0;
  Index width = 0;
  Index features() const { return channels * height * width; }
  Index pixels_per_channel() const { return height * width; }
  bool operator==(const ImageShape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const ImageShape& o) const { return !(*this == o); }
};

// Images stay 8-bit (a quarter of the memory of floats); the DataLoader converts each batch.
struct Dataset {
  std::string name;                      // "fashion-mnist/train"
  Pixels pixels;                         // features x N
  Labels labels;                         // N class ids in [0, classes)
  ImageShape shape;
  std::vector<std::string> class_names;  // index = class id

  Index size() const { return pixels.cols(); }
  Index features() const { return pixels.rows(); }
  Index classes() const { return static_cast<Index>(class_names.size()); }

  // Throws unless pixels, labels, shape and class names agree.
  void validate() const {
    // (sizes of -1 x -28 x 28 multiply to the 784 values of an image, and passed)
    detail::require(shape.channels > 0 && shape.height > 0 && shape.width > 0, name, ": an image shape of ",
                    shape.channels, " x ", shape.height, " x ", shape.width,
                    " (channels x height x width; each has to be at least 1)");
    detail::require(pixels.rows() == shape.features(), name, ": images have ", pixels.rows(),
                    " values but the shape ", shape.channels, " x ", shape.height, " x ",
                    shape.width, " needs ", shape.features());
    detail::require(labels.size() == pixels.cols(), name, ": ", pixels.cols(), " images but ",
                    labels.size(), " labels");
    for (Index i = 0; i < labels.size(); ++i) {
      detail::require(labels[i] >= 0 && labels[i] < classes(), name, ": label ", labels[i],
                      " at index ", i, " is out of range for ", classes(), " classes");
    }
  }

  // Number of samples of each class, over all samples.
  std::vector<Index> class_counts() const {
    std::vector<Index> counts(static_cast<std::size_t>(classes()), 0);
    for (Index i = 0; i < labels.size(); ++i) ++counts[label_slot(i)];
    return counts;
  }
  // ... over the samples `indices` only (none when it is empty: an empty selection counts nothing).
  std::vector<Index> class_counts(const std::vector<Index>& indices) const {
    std::vector<Index> counts(static_cast<std::size_t>(classes()), 0);
    for (Index i : indices) {
      detail::require(i >= 0 && i < size(), name, ": class_counts was given sample index ", i, ", out of range for ",
                      size(), " samples");
      ++counts[label_slot(i)];
    }
    return counts;
  }

 private:
  std::size_t label_slot(Index i) const {
    detail::require(i < labels.size() && labels[i] >= 0 && labels[i] < classes(), name, ": label ",
                    i < labels.size() ? labels[i] : -1, " at index ", i, " is out of range for ", classes(),
                    " classes (or the sample has no label)");
    return static_cast<std::size_t>(labels[i]);
  }
};

// The two parts a benchmark data set ships as.
struct TrainTestData {
  Dataset train;
  Dataset test;
};

}  // namespace mlp
