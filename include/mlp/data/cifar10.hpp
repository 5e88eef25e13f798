// Reader for the CIFAR-10 binary version (Krizhevsky, 2009): `cifar-10-batches-bin/` holds
// data_batch_1.bin ... data_batch_5.bin and test_batch.bin, each a sequence of 3,073-byte records
// (1 label byte, then 1,024 red, 1,024 green and 1,024 blue bytes, rows of 32 pixels), and
// batches.meta.txt with the ten class names, one per line.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/utf8.hpp"
#include "mlp/data/dataset.hpp"
#include "mlp/io/byte_reader.hpp"
#include "mlp/io/file_kind.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mlp {

inline constexpr Index kCifarSide = 32;
inline constexpr Index kCifarFeatures = 3 * kCifarSide * kCifarSide;  // 3,072
inline constexpr Index kCifarRecord = 1 + kCifarFeatures;              // 3,073
inline constexpr Index kCifarBatchRecords = 10000;                     // in every batch file

namespace detail {

[[noreturn]] inline void fail_cifar_too_large(const ByteReader& in) {
  fail<IoError>("'", in.path(), "' is too large for a CIFAR-10 batch: a batch holds at most 10,000 "
                "records of 3,073 bytes (", kCifarBatchRecords * kCifarRecord, " bytes), but ",
                in.gzipped() ? "its decompressed data goes on past that"
                             : concat("the file has ", in.file_size(), " bytes"));
}

}  // namespace detail

// Reads one batch file (raw or gzip-compressed) into 3,072 x N pixels and N labels. No more than
// a batch's 10,000 records are read: a small gzip of zeros cannot inflate into gigabytes.
inline void read_cifar10_batch(const std::filesystem::path& path, Pixels& pixels, Labels& labels,
                               int classes = 10) {
  const auto limit = static_cast<std::uint64_t>(kCifarBatchRecords * kCifarRecord);
  ByteReader in(path);
  if (!in.gzipped() && in.file_size() > limit) detail::fail_cifar_too_large(in);
  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, 1> bytes;  // grows by realloc, not zero-filled
  const std::uint64_t got = in.read_growing(limit + 1, [&](std::uint64_t size) {
    bytes.conservativeResize(static_cast<Index>(size));
    return bytes.data();
  });
  if (got > limit) detail::fail_cifar_too_large(in);  // one byte past a batch: stop there
  const auto size = static_cast<Index>(bytes.size());
  detail::require<IoError>(size > 0, "'", in.path(), "' holds no CIFAR-10 records");
  detail::require<IoError>(size % kCifarRecord == 0, "'", in.path(),
                           "' is truncated or not a CIFAR-10 batch: its ", size,
                           " bytes are not a whole number of 3,073-byte records (1 label + 3,072 "
                           "pixels); the last record has ", size % kCifarRecord, " bytes");
  const Index count = size / kCifarRecord;
  pixels.resize(kCifarFeatures, count);
  labels.resize(count);
  for (Index k = 0; k < count; ++k) {
    const std::uint8_t* record = bytes.data() + k * kCifarRecord;
    detail::require<IoError>(record[0] < classes, "'", in.path(), "': label ", int{record[0]},
                             " of record ", k, " is out of range (expected 0 to ", classes - 1,
                             ")");
    labels[k] = record[0];
    std::copy(record + 1, record + kCifarRecord, pixels.col(k).data());
  }
}

// Class names, one per non-empty line of batches.meta.txt.
inline std::vector<std::string> read_cifar10_class_names(const std::filesystem::path& path) {
  detail::require_regular_file(path);  // an ifstream on a FIFO would block
  // (a name of a million characters went into every label of the pictures: 36 GB for one)
  constexpr std::size_t kLongestFile = 4096, kLongestName = 64;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  detail::require<IoError>(!ec && bytes <= kLongestFile, "'", path.string(), "' holds ", ec ? 0 : bytes,
                           " bytes: a list of 10 class names is far shorter (at most ", kLongestFile, ")");
  std::ifstream in(path);
  detail::require<IoError>(in.good(), "cannot open '", path.string(), "'");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    detail::require<IoError>(line.size() <= kLongestName, "'", path.string(), "' has a class name of ", line.size(),
                             " characters (at most ", kLongestName, ")");
    // (a Latin-1 name or a control character made the study's SVG figures, report and summary.json
    // invalid: they are UTF-8 text)
    const std::size_t bad = detail::first_invalid_utf8(line);
    detail::require<IoError>(bad == line.size(), "'", path.string(), "' has a class name that is not UTF-8 text (byte ",
                             detail::hex_byte(line[bad]), " at offset ", bad, " of the name)");
    const std::size_t odd = detail::first_non_xml_char(line);
    detail::require<IoError>(odd == line.size(), "'", path.string(), "' has a class name holding ",
                             static_cast<unsigned char>(line[odd]) == 0xef ? "U+FFFE or U+FFFF, not characters of text"
                                                                            : "a control character",
                             " (", detail::hex_byte(line[odd]), " at offset ", odd, " of the name)");
    detail::require<IoError>(std::find(names.begin(), names.end(), line) == names.end(), "'", path.string(),
                             "' names the class '", line, "' twice");
    names.push_back(line);
  }
  detail::require<IoError>(names.size() == 10, "'", path.string(), "' lists ", names.size(),
                           " class names, expected 10");
  return names;
}

}  // namespace mlp
