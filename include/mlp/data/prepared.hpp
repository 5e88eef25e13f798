// The data protocol of the study in one call: load a data set, carve a stratified validation split
// out of its training part with a seed, and fit the standardization on the remaining training
// samples only.
#pragma once

#include "mlp/data/datasets.hpp"
#include "mlp/data/split.hpp"
#include "mlp/data/transforms.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlp {

struct PreparedData {
  DatasetKind kind = DatasetKind::FashionMnist;
  std::filesystem::path dir;  // where the files were read from
  TrainTestData data;         // data.train holds both the train and the validation samples
  Split split;                // indices into data.train
  Standardizer standardizer;  // fitted on split.train only
  // CRC-32 of every image and label, training set then test set: with the split's fingerprint, what
  // tells that two runs saw the same data (a test set or images changed in place keep the split).
  std::uint32_t data_fingerprint = 0;

  std::string data_fingerprint_hex() const { return detail::fingerprint_hex(data_fingerprint); }
};

// CRC-32 of a data set's shape, pixels (column by column) and labels (as little-endian u32).
inline std::uint32_t data_set_fingerprint(std::uint32_t crc, const Dataset& d) {
  crc = detail::crc32_of_indices(crc, {d.shape.channels, d.shape.height, d.shape.width, d.size()});
  const auto* bytes = d.pixels.data();
  for (std::size_t left = static_cast<std::size_t>(d.pixels.size()); left > 0;) {
    const std::size_t n = std::min<std::size_t>(left, std::size_t{1} << 30);  // (zlib takes 32-bit lengths)
    crc = static_cast<std::uint32_t>(::crc32(crc, bytes, static_cast<uInt>(n)));
    bytes += n;
    left -= n;
  }
  return detail::crc32_of_indices(crc, std::vector<Index>(d.labels.data(), d.labels.data() + d.labels.size()));
}

// The study's validation size for a training set of n images: 10,000, or a sixth of a smaller set.
inline Index default_validation_size(Index n) { return std::min<Index>(10000, n / 6); }

// Splits and standardizes data already loaded. Per-channel statistics for colour data (CIFAR-10),
// one global pair for grayscale.
inline PreparedData prepare_data(DatasetKind kind, const std::filesystem::path& dir, TrainTestData data,
                                 Index validation_size, std::uint64_t split_seed = 42) {
  PreparedData p;
  p.kind = kind;
  p.dir = dir;
  p.data = std::move(data);
  check_train_test(p.data, detail::concat(to_string(kind), " in '", dir.string(), "'"));
  const Index n = p.data.train.size();
  detail::require(n >= 2, "the training set of ", to_string(kind), " has ", n,
                  " image(s): a validation split needs at least 2 (one for each part)");
  detail::require(validation_size >= 1 && validation_size < n, "the validation split has to be from 1 to ", n - 1,
                  " images (the training set of ", to_string(kind), " has ", n, ", and both parts need some), but "
                  "got ", validation_size);
  p.split = stratified_split(p.data.train.labels, static_cast<int>(p.data.train.classes()),
                             validation_size, split_seed);
  p.standardizer = Standardizer::fit(p.data.train, p.split.train, p.data.train.shape.channels > 1);
  p.data_fingerprint = data_set_fingerprint(data_set_fingerprint(static_cast<std::uint32_t>(::crc32(0L, Z_NULL, 0)),
                                                                 p.data.train),
                                            p.data.test);
  return p;
}

inline PreparedData prepare_data(DatasetKind kind, const std::filesystem::path& dir,
                                 Index validation_size = 10000, std::uint64_t split_seed = 42) {
  return prepare_data(kind, dir, load_dataset(kind, dir), validation_size, split_seed);
}

}  // namespace mlp
