// A minimal PNG writer (8-bit grayscale or RGB, no interlace) on zlib:
//   signature, IHDR, one IDAT holding the zlib-compressed scanlines (each prefixed by filter type
//   0 = None), IEND; every chunk is length, type, data, CRC-32 of type and data.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/io/atomic_file.hpp"

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlp::app {

// An 8-bit image, row-major, channels interleaved (1 = gray, 3 = RGB).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<std::uint8_t> pixels;  // height * width * channels

  Image() = default;
  Image(int w, int h, int c, std::uint8_t fill = 0)
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w) * h * c, fill) {}
  std::uint8_t* at(int x, int y) {
    return pixels.data() + (static_cast<std::size_t>(y) * width + x) * channels;
  }
};

namespace internal {

inline void put_u32_be(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void put_png_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32_be(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32_be(out, static_cast<std::uint32_t>(
                      ::crc32(0L, reinterpret_cast<const Bytef*>(body.data()),
                              static_cast<uInt>(body.size()))));
}

}  // namespace internal

// The bytes of a PNG file for `image`.
inline std::string encode_png(const Image& image) {
  detail::require(image.width > 0 && image.height > 0 && (image.channels == 1 || image.channels == 3),
                  "encode_png needs a non-empty gray or RGB image, got ", image.width, " x ",
                  image.height, " x ", image.channels);
  detail::require(image.pixels.size() ==
                      static_cast<std::size_t>(image.width) * image.height * image.channels,
                  "encode_png: the image has ", image.pixels.size(), " bytes, expected ",
                  static_cast<std::size_t>(image.width) * image.height * image.channels);
  const std::size_t row = static_cast<std::size_t>(image.width) * image.channels;
  std::string raw;
  raw.reserve((row + 1) * static_cast<std::size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    raw.push_back('\0');  // filter: None
    raw.append(reinterpret_cast<const char*>(image.pixels.data()) + y * row, row);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                           reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), 9);
  detail::require<IoError>(rc == Z_OK, "encode_png: zlib compress2 failed with code ", rc);
  packed.resize(packed_size);

  std::string ihdr;
  internal::put_u32_be(ihdr, static_cast<std::uint32_t>(image.width));
  internal::put_u32_be(ihdr, static_cast<std::uint32_t>(image.height));
  ihdr += std::string{8, static_cast<char>(image.channels == 1 ? 0 : 2), 0, 0, 0};
  std::string png = "\x89PNG\r\n\x1a\n";
  internal::put_png_chunk(png, "IHDR", ihdr);
  internal::put_png_chunk(png, "IDAT", packed);
  internal::put_png_chunk(png, "IEND", "");
  return png;
}

inline void write_png(const std::filesystem::path& path, const Image& image) {
  write_file_atomically(path, encode_png(image));
}

}  // namespace mlp::app
