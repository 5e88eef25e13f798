// Reads a file that may or may not be gzip-compressed, with errors that name the file.
//
// A file that starts with the gzip magic (1f 8b) is inflated, anything else is read as it is, so
// one code path serves `train-images-idx3-ubyte.gz` and an uncompressed copy. Every read states
// how many bytes it needs; running short is reported as truncation with the expected and actual
// byte counts.
//
// zlib's inflate() is used directly rather than gzread(): gzread returns the data of a stream
// whose 8-byte trailer (CRC-32 and length) is missing without any error, so a cut file passed for
// a whole one. Here the data ends only where a gzip member ends with a verified trailer.
// Concatenated members are read as one stream, as `gzip -d` does; other bytes after the last
// member are an error.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/io/file_kind.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace mlp {

class ByteReader {
 public:
  explicit ByteReader(const std::filesystem::path& path) : path_(path.string()) {
    detail::require_regular_file(path);  // a FIFO would block, a device never end
    std::error_code ec;
    file_size_ = static_cast<std::uint64_t>(std::filesystem::file_size(path, ec));
    file_ = std::fopen(path_.c_str(), "rb");
    if (file_ == nullptr) detail::fail<IoError>("cannot open '", path_, "': ", std::strerror(errno));
    // Uninitialized and no larger than the file: zero-filling buffers that are never used cost a
    // small file's read 50 times its own time in page faults.
    input_size_ = static_cast<std::size_t>(std::min<std::uint64_t>(kInputBuffer, file_size_ + 16));
    input_.reset(new unsigned char[input_size_]);
    stream_.next_in = input_.get();
    while (stream_.avail_in < 2 && refill() > 0) {
    }
    gzipped_ = stream_.avail_in >= 2 && input_[0] == 0x1f && input_[1] == 0x8b;
    if (gzipped_ && inflateInit2(&stream_, 15 + 16) != Z_OK) {  // 16: gzip wrapper only
      std::fclose(file_);
      detail::fail<IoError>("cannot read '", path_, "': zlib cannot start (out of memory)");
    }
  }
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;
  ~ByteReader() {
    if (gzipped_) inflateEnd(&stream_);
    std::fclose(file_);
  }

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  std::uint64_t read_some(void* dst, std::uint64_t n) {
    if (n == 0) return 0;
    auto* out = static_cast<unsigned char*>(dst);
    return gzipped_ ? inflate_some(out, n) : copy_some(out, n);
  }

  // Reads exactly n bytes of `what`, or throws an IoError saying the file is truncated.
  void read_exact(void* dst, std::uint64_t n, const std::string& what) {
    const std::uint64_t start = position_;
    const std::uint64_t got = read_some(dst, n);
    if (got != n) fail_truncated(n, what, start, got);
  }

  // Reads up to n bytes into storage that grows with the data that really arrives: `resize(size)`
  // has to make room for `size` bytes, keep those read so far, and return where they start.
  // Returns how many bytes were read (the storage is resized to that). A gzip header that promises
  // gigabytes so costs memory only for the bytes that are there (at most twice them), and garbage
  // fails after the first MiB instead of after a huge allocation; a plain file's size is known.
  template <class Resize>
  std::uint64_t read_growing(std::uint64_t n, Resize&& resize) {
    const std::uint64_t left_on_disk = file_size_ > position_ ? file_size_ - position_ : 0;
    std::uint64_t room = std::min(n, gzipped_ ? kFirstChunk : left_on_disk + 1);
    unsigned char* data = resize(room);
    std::uint64_t have = 0;
    for (;;) {
      const std::uint64_t want = room - have;
      const std::uint64_t got = read_some(data + have, want);
      have += got;
      if (got < want || have == n) break;
      room = std::min(n, 2 * room);
      data = resize(room);
    }
    if (have != room) resize(have);
    return have;
  }

  // read_exact into growing storage (see read_growing).
  template <class Resize>
  void read_exact_growing(std::uint64_t n, const std::string& what, Resize&& resize) {
    const std::uint64_t start = position_;
    const std::uint64_t got = read_growing(n, resize);
    if (got != n) fail_truncated(n, what, start, got);
  }

  // Throws unless the data ends here; for gzip this also verifies the trailer (CRC and length).
  // Extra bytes are counted up to 64 KiB: a tail of gigabytes is not inflated just to count it.
  void expect_end(const std::string& what) {
    constexpr std::uint64_t kCountUpTo = 65536;
    unsigned char extra[4096];
    std::uint64_t more = 0;
    while (more <= kCountUpTo) {
      const std::uint64_t got = read_some(extra, sizeof extra);
      if (got == 0) break;
      more += got;
    }
    if (more > kCountUpTo) {
      detail::fail<IoError>("'", path_, "' has more than ", kCountUpTo, " unexpected bytes after ",
                            what, " (the header describes ", position_ - more, " bytes)");
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
  static constexpr std::size_t kInputBuffer = std::size_t{1} << 18;
  static constexpr std::size_t kOutputBuffer = std::size_t{1} << 18;
  static constexpr std::uint64_t kFirstChunk = std::uint64_t{1} << 20;  // of read_growing on gzip

  // Moves the unread input to the front of the buffer and tops it up from the file; returns how
  // many bytes came (0 at the end of the file).
  std::size_t refill() {
    if (stream_.avail_in > 0 && stream_.next_in != input_.get()) {
      std::memmove(input_.get(), stream_.next_in, stream_.avail_in);
    }
    stream_.next_in = input_.get();
    const std::size_t got =
        std::fread(input_.get() + stream_.avail_in, 1, input_size_ - stream_.avail_in, file_);
    if (got == 0 && std::ferror(file_) != 0) {
      detail::fail<IoError>("cannot read '", path_, "': ", std::strerror(errno));
    }
    stream_.avail_in += static_cast<uInt>(got);
    file_offset_ += got;
    return got;
  }

  // An uncompressed file: what is left in the buffer, then straight from the file.
  std::uint64_t copy_some(unsigned char* out, std::uint64_t n) {
    std::uint64_t done = std::min<std::uint64_t>(n, stream_.avail_in);
    std::memcpy(out, stream_.next_in, static_cast<std::size_t>(done));
    stream_.next_in += done;
    stream_.avail_in -= static_cast<uInt>(done);
    while (done < n) {
      const std::size_t got = std::fread(out + done, 1, static_cast<std::size_t>(n - done), file_);
      if (got == 0) {
        if (std::ferror(file_) != 0) detail::fail<IoError>("cannot read '", path_, "': ", std::strerror(errno));
        break;
      }
      done += got;
    }
    position_ += done;
    return done;
  }

  // Small reads (the header) are served from a buffer that inflate() fills ahead, so corruption
  // close behind them is reported as such rather than as a strange header; large reads go
  // straight into the caller's memory.
  std::uint64_t inflate_some(unsigned char* out, std::uint64_t n) {
    std::uint64_t done = take_buffered(out, n);
    while (done < n) {
      if (n - done >= kOutputBuffer) {
        const std::uint64_t got = inflate_into(out + done, n - done);
        position_ += got;
        return done + got;
      }
      if (!output_) output_.reset(new unsigned char[kOutputBuffer]);
      buffered_at_ = 0;
      buffered_end_ = static_cast<std::size_t>(inflate_into(output_.get(), kOutputBuffer));
      if (buffered_end_ == 0) break;
      done += take_buffered(out + done, n - done);
    }
    return done;
  }

  std::uint64_t take_buffered(unsigned char* out, std::uint64_t n) {
    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(n, buffered_end_ - buffered_at_));
    if (k > 0) std::memcpy(out, output_.get() + buffered_at_, k);  // null before the first fill
    buffered_at_ += k;
    position_ += k;
    return k;
  }

  // Inflates up to n bytes into dst; fewer only at the end of the data.
  std::uint64_t inflate_into(unsigned char* dst, std::uint64_t n) {
    std::uint64_t done = 0;
    while (done < n) {
      if (member_ended_ && !start_next_member()) break;
      if (stream_.avail_in == 0 && refill() == 0) {
        fail_corrupt("unexpected end of file: the rest of the stream or its 8-byte trailer is missing");
      }
      const auto chunk = static_cast<uInt>(std::min<std::uint64_t>(n - done, 1u << 30));
      stream_.next_out = dst + done;
      stream_.avail_out = chunk;
      const int code = inflate(&stream_, Z_NO_FLUSH);
      done += chunk - stream_.avail_out;
      inflated_ += chunk - stream_.avail_out;
      if (code == Z_STREAM_END) {
        member_ended_ = true;  // inflate() has checked the trailer's CRC-32 and length
      } else if (code != Z_OK && code != Z_BUF_ERROR) {
        fail_corrupt(stream_.msg != nullptr ? stream_.msg : zError(code));
      }
    }
    return done;
  }

  // After a gzip member, either the file ends (the end of the data) or another member starts.
  bool start_next_member() {
    while (stream_.avail_in < 2 && refill() > 0) {
    }
    if (stream_.avail_in == 0) return false;
    if (stream_.avail_in < 2 || stream_.next_in[0] != 0x1f || stream_.next_in[1] != 0x8b) {
      const std::uint64_t end = file_offset_ - stream_.avail_in;
      detail::fail<IoError>("'", path_, "' is corrupt: its gzip data ends at byte ", end, ", but ",
                            file_size_ > end ? file_size_ - end : stream_.avail_in,
                            " more bytes follow that are not a gzip member");
    }
    inflateReset(&stream_);
    member_ended_ = false;
    return true;
  }

  [[noreturn]] void fail_truncated(std::uint64_t n, const std::string& what, std::uint64_t start,
                                   std::uint64_t got) const {
    detail::fail<IoError>("'", path_, "' is truncated: expected ", n, " bytes of ", what,
                          " at offset ", start, ", but the ", gzipped_ ? "decompressed " : "",
                          "data ends after ", start + got, " bytes");
  }

  [[noreturn]] void fail_corrupt(const std::string& reason) const {
    detail::fail<IoError>("'", path_, "' is corrupt or truncated: the gzip stream fails (", reason,
                          ") after ", inflated_, " decompressed bytes");
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<unsigned char[]> input_;
  std::size_t input_size_ = 0;
  z_stream stream_{};  // next_in/avail_in are the input buffer's cursor in both modes
  std::unique_ptr<unsigned char[]> output_;  // inflated ahead for small reads: [buffered_at_, buffered_end_)
  std::size_t buffered_at_ = 0;
  std::size_t buffered_end_ = 0;
  std::uint64_t file_size_ = 0;
  std::uint64_t file_offset_ = 0;  // bytes read from the file so far
  std::uint64_t position_ = 0;     // bytes of data delivered so far
  std::uint64_t inflated_ = 0;     // bytes inflated so far (delivered or buffered)
  bool gzipped_ = false;
  bool member_ended_ = false;
};

}  // namespace mlp
