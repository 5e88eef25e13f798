// Crash-safe file writes: the content goes to a temporary file in the same folder, is flushed to
// disk, and only then renamed over the destination. rename() within one file system is atomic, so
// a reader (or a crash) sees either the old complete file or the new complete file, never half.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/io/file_kind.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define MLP_HAVE_FSYNC 1
#endif

#ifdef MLP_FAULT_INJECTION
#include <csignal>
#include <cstdlib>
#endif

namespace mlp {

namespace detail {

// Crash-safety tests build a program with MLP_FAULT_INJECTION and set MLP_KILL_AT_WRITE=n (or
// MLP_INTERRUPT_AT_WRITE=n): the process then sends itself SIGKILL (or SIGINT) during its n-th atomic
// write, after the temporary file is written and before it is renamed, the worst moment. A signal
// raised here lands at an exactly reproducible point, which a signal sent from outside cannot.
// Compiled out otherwise.
inline void fault_point_during_write() {
#ifdef MLP_FAULT_INJECTION
  static std::atomic<int> writes{0};
  const int this_write = ++writes;
  const char* kill_at = std::getenv("MLP_KILL_AT_WRITE");
  const char* interrupt_at = std::getenv("MLP_INTERRUPT_AT_WRITE");
  if (kill_at != nullptr && this_write == std::atoi(kill_at)) std::raise(SIGKILL);
  if (interrupt_at != nullptr && this_write == std::atoi(interrupt_at)) std::raise(SIGINT);
#endif
}

inline std::string errno_text(int code) { return code == 0 ? "unknown error" : std::strerror(code); }

// Atomic: threads that save in parallel (runs of a study, a logger beside a checkpoint) must never
// draw the same name, or two writers would share one temporary file.
inline std::filesystem::path temporary_sibling(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
#ifdef MLP_HAVE_FSYNC
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  return path.string() + concat(".tmp.", pid, ".", counter.fetch_add(1) + 1);
}

// Creates `dir` and its parents if needed; returns why that failed, or "" on success.
inline std::string create_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  if (dir.empty() || std::filesystem::is_directory(dir, ec)) return "";
  std::filesystem::create_directories(dir, ec);
  if (ec) return ec.message();
  return std::filesystem::is_directory(dir, ec) ? "" : "a file of that name exists";
}

}  // namespace detail

// Replaces `path` with `content`, atomically. Throws IoError naming the path and the reason (e.g.
// "No space left on device"); on failure the destination is untouched and no temporary is left.
// Missing parent folders are created, so every writer (best model, CSV log, checkpoint, figures)
// behaves the same whichever of them writes first.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  if (const std::string why = detail::create_folder(path.parent_path()); !why.empty()) {
    detail::fail<IoError>("cannot write '", path.string(), "': cannot create its folder '",
                          path.parent_path().string(), "': ", why);
  }
  // rename() would put the file in place of whatever stands there: a device such as /dev/full, a FIFO.
  if (const std::string problem = detail::non_file_problem(path); !problem.empty()) {
    detail::fail<IoError>("cannot write '", path.string(), "': ", detail::cannot_open_reason(problem),
                          " (only a regular file is replaced)");
  }
  const std::filesystem::path tmp = detail::temporary_sibling(path);
  std::FILE* f = std::fopen(tmp.string().c_str(), "wb");
  if (f == nullptr) {
    detail::fail<IoError>("cannot write '", path.string(), "': ", detail::errno_text(errno));
  }
  bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  ok = std::fflush(f) == 0 && ok;
  int code = ok ? 0 : errno;
#ifdef MLP_HAVE_FSYNC
  if (ok && ::fsync(::fileno(f)) != 0) ok = false, code = errno;
#endif
  if (std::fclose(f) != 0 && ok) ok = false, code = errno;
  if (ok) detail::fault_point_during_write();
  if (ok && std::rename(tmp.string().c_str(), path.string().c_str()) != 0) ok = false, code = errno;
  if (!ok) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    detail::fail<IoError>("cannot write '", path.string(), "': ", detail::errno_text(code));
  }
}

// Removes the files in `dir` whose names start with `prefix` (best effort: a file that cannot be
// removed stays).
inline void remove_files_with_prefix(const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

// Removes temporary files that an interrupted write_file_atomically left next to `file` (a killed
// process cannot clean up after itself). Only names of the form <file name>.tmp.<pid>.<n>.
inline void remove_stale_temporaries(const std::filesystem::path& file) {
  remove_files_with_prefix(file.has_parent_path() ? file.parent_path() : ".", file.filename().string() + ".tmp.");
}

// Creates `dir` and its parents if needed; throws IoError naming it when that fails.
inline void ensure_directory(const std::filesystem::path& dir) {
  const std::string why = detail::create_folder(dir);
  if (!why.empty()) detail::fail<IoError>("cannot create folder '", dir.string(), "': ", why);
}

namespace detail {

// Up to `limit` bytes from the start of a regular file (all of it by default).
inline std::string read_regular_file(const std::filesystem::path& path,
                                     std::size_t limit = std::string::npos) {
  require_regular_file(path);  // before fopen: opening a FIFO would block
  std::FILE* f = std::fopen(path.string().c_str(), "rb");
  if (f == nullptr) fail<IoError>("cannot open '", path.string(), "': ", errno_text(errno));
  std::string content;
  char buffer[1 << 16];
  while (content.size() < limit) {
    const std::size_t n = std::fread(buffer, 1, std::min(sizeof buffer, limit - content.size()), f);
    if (n == 0) break;
    content.append(buffer, n);
  }
  const int code = std::ferror(f) != 0 ? errno : 0;
  std::fclose(f);
  if (code != 0) fail<IoError>("cannot read '", path.string(), "': ", errno_text(code));
  return content;
}

}  // namespace detail

// The whole content of a (small) file; throws IoError naming it when it cannot be read, and
// saying what it is when it is not a regular file (a folder, a FIFO, a device, a link loop).
inline std::string read_text_file(const std::filesystem::path& path) {
  return detail::read_regular_file(path);
}

// The first `n` bytes of a regular file (fewer when it is shorter): enough to recognize a file's
// kind without reading all of a large one. Errors as read_text_file.
inline std::string read_file_start(const std::filesystem::path& path, std::size_t n) {
  return detail::read_regular_file(path, n);
}

}  // namespace mlp
