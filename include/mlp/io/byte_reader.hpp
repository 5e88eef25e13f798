// Reads a file that may or may not be gzip-compressed, with errors that name the file.
//
// zlib's gz* functions read gzip members and plain files alike, so one code path serves
// `train-images-idx3-ubyte.gz` and an uncompressed copy. Every read states how many bytes it needs;
// running short is reported as truncation with the expected and actual byte counts.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/io/file_kind.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

namespace mlp {

class ByteReader {
 public:
  explicit ByteReader(const std::filesystem::path& path) : path_(path.string()) {
    detail::require_regular_file(path);  // a FIFO would block, a device never end
    std::error_code ec;
    file_size_ = static_cast<std::uint64_t>(std::filesystem::file_size(path, ec));
    gzipped_ = starts_with_gzip_magic();
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) detail::fail<IoError>("cannot open '", path_, "'");
    gzbuffer(file_, 1u << 18);
  }
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;
  ~ByteReader() {
    if (file_ != nullptr) gzclose(file_);
  }

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  std::uint64_t read_some(void* dst, std::uint64_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    std::uint64_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::uint64_t>(n - done, 1u << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) fail_corrupt();
      if (got == 0) {
        int code = Z_OK;
        gzerror(file_, &code);
        if (code != Z_OK) fail_corrupt();  // e.g. a gzip stream cut short
        break;
      }
      done += static_cast<std::uint64_t>(got);
      position_ += static_cast<std::uint64_t>(got);
    }
    return done;
  }

  // Reads exactly n bytes of `what`, or throws an IoError saying the file is truncated.
  void read_exact(void* dst, std::uint64_t n, const std::string& what) {
    const std::uint64_t start = position_;
    const std::uint64_t got = read_some(dst, n);
    if (got != n) {
      detail::fail<IoError>("'", path_, "' is truncated: expected ", n, " bytes of ", what,
                            " at offset ", start, ", but the ", gzipped_ ? "decompressed " : "",
                            "data ends after ", start + got, " bytes");
    }
  }

  // Throws unless the data ends here; also makes zlib verify the gzip trailer (CRC and length).
  void expect_end(const std::string& what) {
    unsigned char extra[4096];
    std::uint64_t more = 0;
    for (;;) {
      const std::uint64_t got = read_some(extra, sizeof extra);
      if (got == 0) break;
      more += got;
    }
    if (more > 0) {
      detail::fail<IoError>("'", path_, "' has ", more, " unexpected bytes after ", what,
                            " (the header describes ", position_ - more, " bytes)");
    }
  }

  const std::string& path() const { return path_; }
  bool gzipped() const { return gzipped_; }
  std::uint64_t file_size() const { return file_size_; }  // on disk (compressed if gzipped)

  // An upper bound on the decompressed size: deflate cannot expand data more than ~1032:1, so a
  // header that promises more than this is lying, and must not drive a huge allocation.
  std::uint64_t max_data_size() const {
    return gzipped_ ? file_size_ * 1040 + 65536 : file_size_;
  }

 private:
  bool starts_with_gzip_magic() const {
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    if (f == nullptr) detail::fail<IoError>("cannot open '", path_, "' for reading");
    unsigned char magic[2] = {0, 0};
    const std::size_t n = std::fread(magic, 1, 2, f);
    std::fclose(f);
    return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  }

  [[noreturn]] void fail_corrupt() {
    int code = 0;
    const char* message = gzerror(file_, &code);
    detail::fail<IoError>("'", path_, "' is corrupt or truncated: the gzip stream fails (",
                          message ? message : "?", ") after ", position_, " decompressed bytes");
  }

  std::string path_;
  gzFile file_ = nullptr;
  std::uint64_t file_size_ = 0;
  std::uint64_t position_ = 0;
  bool gzipped_ = false;
};

}  // namespace mlp
