// Shared pieces of the libFuzzer targets: a scratch file for readers that take a path, and the
// fix-up that lets mutated container files past their checksum so the parser behind it is reached.
#pragma once

#include "../data_files.hpp"

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

// The first input byte chooses whether the rest is used as is (even) or with its length and
// checksum repaired (odd), so both the integrity checks and the parser behind them are fuzzed.
inline std::string container_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {};
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) mlp_test::repair_container(bytes);
  return bytes;
}

}  // namespace fuzz
