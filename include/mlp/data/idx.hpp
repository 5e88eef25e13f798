// Reader for the IDX format of MNIST and FashionMNIST (LeCun et al.), raw or gzip-compressed:
//   u32 magic (big-endian) = 0x0000 08 dd: unsigned bytes, dd dimensions;
//   dd u32 sizes (big-endian); then the bytes, last dimension fastest.
// Images are 0x00000803 (count, rows, cols); labels are 0x00000801 (count).
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/data/dataset.hpp"
#include "mlp/io/byte_reader.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace mlp {

namespace detail {

inline std::uint32_t read_u32_be(ByteReader& in, const std::string& what) {
  unsigned char b[4];
  in.read_exact(b, 4, what);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

// What a magic number says the file is, for error messages.
inline std::string describe_idx_magic(std::uint32_t magic) {
  if (magic == 0x00000803) return "an IDX image file";
  if (magic == 0x00000801) return "an IDX label file";
  if ((magic >> 16) == 0x1f8b) return "gzip data inside the (already decompressed) file";
  if ((magic & 0xffff0000u) == 0 && ((magic >> 8) & 0xff) >= 0x08 && ((magic >> 8) & 0xff) <= 0x0e) {
    return concat("an IDX file of another kind (type 0x", std::hex, (magic >> 8) & 0xff, std::dec,
                  ", ", magic & 0xff, " dimensions)");
  }
  return "something other than an IDX file";
}

inline std::string hex32(std::uint32_t v) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

inline void check_idx_magic(const ByteReader& in, std::uint32_t magic, std::uint32_t expected,
                            const char* kind) {
  if (magic == expected) return;
  fail<IoError>("'", in.path(), "' is not an IDX ", kind, " file: its magic number ", hex32(magic),
                " looks like ", describe_idx_magic(magic), " (expected ", hex32(expected), ")");
}

}  // namespace detail

// Reads an IDX image file into a (rows * cols) x count matrix; reports the image size.
inline Pixels read_idx_images(const std::filesystem::path& path, Index& rows, Index& cols) {
  ByteReader in(path);
  detail::check_idx_magic(in, detail::read_u32_be(in, "IDX header"), 0x00000803, "image");
  const std::uint64_t count = detail::read_u32_be(in, "IDX header");
  const std::uint64_t height = detail::read_u32_be(in, "IDX header");
  const std::uint64_t width = detail::read_u32_be(in, "IDX header");
  detail::require<IoError>(height > 0 && width > 0 && height < 65536 && width < 65536, "'",
                           in.path(), "' has an invalid image size ", height, " x ", width);
  const std::uint64_t bytes = count * height * width;  // < 2^64: count < 2^32, sides < 2^16
  detail::require<IoError>(bytes + 16 <= in.max_data_size(),
                           "'", in.path(), "' is truncated: its header describes ", count,
                           " images of ", height, " x ", width, " (", bytes + 16,
                           " bytes), but the file is only ", in.file_size(), " bytes",
                           in.gzipped() ? " compressed" : "");
  rows = static_cast<Index>(height);
  cols = static_cast<Index>(width);
  // Columns are added as the data arrives (realloc: cheap), not made for the header's count.
  Pixels pixels(rows * cols, 0);
  const std::uint64_t image_bytes = height * width;
  in.read_exact_growing(bytes, detail::concat(count, " images of ", height, " x ", width),
                        [&](std::uint64_t size) {
                          const auto images = static_cast<Index>((size + image_bytes - 1) / image_bytes);
                          pixels.conservativeResize(rows * cols, images);
                          return pixels.data();
                        });
  in.expect_end(detail::concat(count, " images"));
  return pixels;
}

// Reads an IDX label file; every label has to be below `classes`.
inline Labels read_idx_labels(const std::filesystem::path& path, int classes) {
  ByteReader in(path);
  detail::check_idx_magic(in, detail::read_u32_be(in, "IDX header"), 0x00000801, "label");
  const std::uint64_t count = detail::read_u32_be(in, "IDX header");
  detail::require<IoError>(count + 8 <= in.max_data_size(), "'", in.path(),
                           "' is truncated: its header describes ", count, " labels (", count + 8,
                           " bytes), but the file is only ", in.file_size(), " bytes",
                           in.gzipped() ? " compressed" : "");
  // Grows as the labels arrive, not to the header's count (by realloc, without zero-filling).
  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, 1> bytes;
  in.read_exact_growing(count, detail::concat(count, " labels"), [&](std::uint64_t size) {
    bytes.conservativeResize(static_cast<Index>(size));
    return bytes.data();
  });
  in.expect_end(detail::concat(count, " labels"));
  Labels labels(static_cast<Index>(count));
  for (Index i = 0; i < labels.size(); ++i) {
    detail::require<IoError>(bytes[i] < classes, "'", in.path(), "': label ", int{bytes[i]},
                             " at index ", i, " is out of range (expected 0 to ", classes - 1, ")");
    labels[i] = bytes[i];
  }
  return labels;
}

}  // namespace mlp
