// Shared pieces of the libFuzzer targets: a scratch file for readers that take a path, and the
// fix-up that lets mutated container files past their checksum so the parser behind it is reached.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace fuzz {

// A file path private to this process (on /dev/shm when available: no disk writes per input).
inline const std::string& scratch_path(const char* name) {
  static const std::string dir = [] {
    const std::filesystem::path shm = "/dev/shm";
    std::error_code ec;
    return (std::filesystem::is_directory(shm, ec) ? shm : std::filesystem::temp_directory_path()).string();
  }();
  static const std::string path = dir + "/mlp_fuzz_" + std::to_string(::getpid()) + "_" + name;
  return path;
}

inline const std::string& write_scratch(const char* name, const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f != nullptr) {
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

// Rewrites the declared length (bytes 16..23) and the trailing CRC-32 of a container file.
inline void fix_container(std::string& bytes) {
  if (bytes.size() < 32) return;
  const std::uint64_t size = bytes.size();
  for (int i = 0; i < 8; ++i) bytes[16 + static_cast<std::size_t>(i)] = static_cast<char>((size >> (8 * i)) & 0xff);
  const auto crc = static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

// The first input byte chooses whether the rest is used as is (even) or with its length and
// checksum repaired (odd), so both the integrity checks and the parser behind them are fuzzed.
inline std::string container_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {};
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) fix_container(bytes);
  return bytes;
}

}  // namespace fuzz
