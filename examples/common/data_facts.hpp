// Prints the facts about a prepared data set that the study asks a student to report.
#pragma once

#include "common/cli.hpp"

#include <mlp/data/prepared.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>

namespace cli {

// The data set, split with --validation: a default --validation that the data set is too small for
// is named as the default (the message named a value of 10000 the user had not given).
inline mlp::PreparedData prepare_with_validation(const cxxopts::ParseResult& flags, mlp::DatasetKind kind,
                                                 const std::filesystem::path& dir, long long validation,
                                                 std::uint64_t split_seed) {
  mlp::TrainTestData loaded = mlp::load_dataset(kind, dir);
  const auto available = static_cast<long long>(loaded.train.size());
  if (flags.count("validation") == 0 && validation >= available && available >= 2) {
    throw UsageError("the training set in " + dir.string() + " holds " + std::to_string(available) +
                     " images, not more than the default --validation of " + std::to_string(validation) +
                     " (the images carved out for validation): give --validation from 1 to " +
                     std::to_string(available - 1));
  }
  return mlp::prepare_data(kind, dir, std::move(loaded), static_cast<mlp::Index>(validation), split_seed);
}

inline std::string thousands(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

inline void print_data_facts(std::ostream& out, const mlp::PreparedData& p) {
  const mlp::Dataset& train = p.data.train;
  const mlp::Dataset& test = p.data.test;
  const auto& shape = train.shape;
  char line[256];
  out << "Data set " << mlp::to_string(p.kind) << " (read from " << p.dir.string() << ")\n";
  out << "  images: " << thousands(train.size() + test.size()) << " = train "
      << thousands(static_cast<long long>(p.split.train.size())) << " + validation "
      << thousands(static_cast<long long>(p.split.validation.size())) << " (both from the "
      << thousands(train.size()) << " training images, stratified, split fingerprint "
      << p.split.fingerprint_hex() << ") + test " << thousands(test.size()) << "\n";
  out << "  image size: " << shape.height << " x " << shape.width << " pixels, " << shape.channels
      << (shape.channels == 1 ? " channel (grayscale)" : " channels (colour, RGB)") << ", "
      << shape.features() << " values per image\n";
  const int lo = std::min(train.pixels.minCoeff(), test.pixels.minCoeff());
  const int hi = std::max(train.pixels.maxCoeff(), test.pixels.maxCoeff());
  out << "  pixel values: 8-bit unsigned integers (uint8), observed range " << lo << " to " << hi
      << "; scaled to [0, 1] by / 255\n";
  for (mlp::Index c = 0; c < p.standardizer.channels(); ++c) {
    std::snprintf(line, sizeof line, "  %s%s: mean %.4f, standard deviation %.4f (after / 255, on the %s training images only)\n",
                  shape.channels > 1 ? "channel " : "train statistics",
                  shape.channels > 1 ? std::to_string(c).c_str() : "",
                  p.standardizer.mean[static_cast<std::size_t>(c)],
                  p.standardizer.stddev[static_cast<std::size_t>(c)],
                  thousands(static_cast<long long>(p.split.train.size())).c_str());
    out << line;
  }
  out << "  classes (" << train.classes() << "):\n";
  const auto train_counts = train.class_counts(p.split.train);
  const auto val_counts = train.class_counts(p.split.validation);
  const auto test_counts = test.class_counts();
  std::snprintf(line, sizeof line, "    %3s  %-12s %7s %11s %6s\n", "id", "name", "train",
                "validation", "test");
  out << line;
  for (std::size_t k = 0; k < train_counts.size(); ++k) {
    std::snprintf(line, sizeof line, "    %3zu  %-12s %7lld %11lld %6lld\n", k,
                  train.class_names[k].c_str(), static_cast<long long>(train_counts[k]),
                  static_cast<long long>(val_counts[k]), static_cast<long long>(test_counts[k]));
    out << line;
  }
}

}  // namespace cli
