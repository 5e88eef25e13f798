// A run folder: the one place a training run writes (best.mlp, metrics.csv, events.out.tfevents.*,
// checkpoint.mlpckpt, summary.json). It is marked by a file `.mlp-run`, which is also the lock that
// one process holds while it trains there:
//   - a second process that wants the same folder is refused, naming the holder's pid (two runs
//     writing one folder would mix their files);
//   - an existing folder with files but no marker is somebody else's (TensorBoard logs of another
//     tool, a home folder...): it is refused unless the caller says to adopt it.
// The lock is an flock on the marker: the kernel drops it when the process ends, even by SIGKILL.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/io/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace mlp::app {

inline constexpr const char* kRunMarker = ".mlp-run";

class RunFolder {
 public:
  // Creates `dir` if needed and locks it for this process. `adopt`: use a non-empty folder that
  // has no marker yet (the programs' --force).
  RunFolder(const std::filesystem::path& dir, bool adopt) : dir_(dir) {
    detail::require(!dir.empty(), "the output folder must not be empty (use . for the current folder)");
    std::error_code ec;
    const bool exists = std::filesystem::exists(dir, ec);
    if (exists && !std::filesystem::is_directory(dir, ec)) {
      detail::fail<IoError>("'", dir.string(), "' is not a folder");
    }
    const bool marked = std::filesystem::exists(dir / kRunMarker, ec);
    if (exists && !marked && !adopt && !std::filesystem::is_empty(dir, ec)) {
      detail::fail<IoError>("'", dir.string(), "' holds files but is not an mlp run folder (it has no ", kRunMarker,
                            " marker); a run there would replace its summary.json, best.mlp, metrics.csv and "
                            "TensorBoard event files: choose another output folder, or --force to use it");
    }
    ensure_directory(dir);
    const std::string marker = (dir / kRunMarker).string();
    fd_ = ::open(marker.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) detail::fail<IoError>("cannot create '", marker, "': ", detail::errno_text(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int code = errno;
      const std::string holder = read_text_file(marker);
      ::close(fd_);
      fd_ = -1;
      if (code == EWOULDBLOCK) {
        detail::fail<IoError>("'", dir.string(), "' is in use by another run (process ",
                              holder.empty() ? "?" : holder, "); wait for it to end, or use another output folder");
      }
      detail::fail<IoError>("cannot lock '", marker, "': ", detail::errno_text(code));
    }
    const std::string pid = std::to_string(static_cast<long>(::getpid()));
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      release();
      detail::fail<IoError>("cannot write '", marker, "': ", detail::errno_text(errno));
    }
  }
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;
  ~RunFolder() { release(); }

  const std::filesystem::path& path() const { return dir_; }

 private:
  void release() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor drops the flock
    fd_ = -1;
  }

  std::filesystem::path dir_;
  int fd_ = -1;
};

}  // namespace mlp::app
