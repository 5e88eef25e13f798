// A seeded, stratified train/validation split of a labelled data set.
//
// Each class gives the validation set a share of its samples proportional to its size (largest
// remainders settle the rounding), so FashionMNIST's 60,000 images with 10,000 for validation give
// exactly 1,000 of each class. The split is drawn once from a seed and identified by a fingerprint,
// the CRC-32 of both index lists, so two runs can prove they used the same split.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/core/types.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mlp {

namespace detail {
// A fingerprint as 8 lowercase hex digits, as files and messages show it.
inline std::string fingerprint_hex(std::uint32_t fingerprint) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(fingerprint));
  return text;
}
}  // namespace detail

struct Split {
  std::vector<Index> train;       // ascending sample indices
  std::vector<Index> validation;  // ascending sample indices
  std::uint32_t fingerprint = 0;  // CRC-32 of (train, validation) as little-endian u32

  std::string fingerprint_hex() const { return detail::fingerprint_hex(fingerprint); }
};

namespace detail {

inline std::uint32_t crc32_of_indices(std::uint32_t crc, const std::vector<Index>& indices) {
  unsigned char bytes[4];
  for (Index i : indices) {
    const auto v = static_cast<std::uint32_t>(i);
    for (int k = 0; k < 4; ++k) bytes[k] = static_cast<unsigned char>(v >> (8 * k));
    crc = static_cast<std::uint32_t>(::crc32(crc, bytes, 4));
  }
  return crc;
}

}  // namespace detail

inline std::uint32_t split_fingerprint(const std::vector<Index>& train,
                                       const std::vector<Index>& validation) {
  std::uint32_t crc = static_cast<std::uint32_t>(::crc32(0L, Z_NULL, 0));
  crc = detail::crc32_of_indices(crc, train);
  return detail::crc32_of_indices(crc, validation);
}

// Splits the samples 0..N-1 (labels in [0, classes)) into train and `validation_size` validation
// samples, stratified by class, drawn with derive_seed(seed, "split").
inline Split stratified_split(const Labels& labels, int classes, Index validation_size,
                              std::uint64_t seed) {
  const Index n = labels.size();
  detail::require(classes > 0, "stratified_split needs classes > 0, but got ", classes);
  detail::require(validation_size >= 0 && validation_size <= n, "validation size ",
                  validation_size, " is not between 0 and the ", n, " samples");
  std::vector<std::vector<Index>> by_class(static_cast<std::size_t>(classes));
  for (Index i = 0; i < n; ++i) {
    detail::require(labels[i] >= 0 && labels[i] < classes, "stratified_split: label ", labels[i],
                    " at index ", i, " is out of range for ", classes, " classes");
    by_class[static_cast<std::size_t>(labels[i])].push_back(i);
  }
  // Proportional shares, then one extra sample to the classes with the largest remainders.
  std::vector<Index> share(by_class.size());
  std::vector<std::pair<Index, std::size_t>> remainders;  // (remainder numerator, class)
  Index assigned = 0;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    const Index numerator = static_cast<Index>(by_class[c].size()) * validation_size;
    share[c] = n == 0 ? 0 : numerator / n;
    assigned += share[c];
    remainders.push_back({n == 0 ? 0 : numerator % n, c});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; assigned < validation_size; ++k, ++assigned) {
    ++share[remainders[k].second];
  }

  Rng rng(derive_seed(seed, "split"));
  Split split;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    shuffle(by_class[c], rng);
    const auto take = static_cast<std::ptrdiff_t>(share[c]);
    split.validation.insert(split.validation.end(), by_class[c].begin(), by_class[c].begin() + take);
    split.train.insert(split.train.end(), by_class[c].begin() + take, by_class[c].end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  split.fingerprint = split_fingerprint(split.train, split.validation);
  return split;
}

}  // namespace mlp
