// TensorBoard event files written by hand, so `tensorboard --logdir runs` shows every run's curves
// without TensorFlow. A file is a sequence of TFRecords:
//   u64 length (LE) | u32 masked CRC-32C of the length | Event bytes | u32 masked CRC-32C of the bytes
// The first Event has file_version "brain.Event:2"; then one Event per epoch with wall_time, step
// (the epoch) and a Summary of simple_value scalars. Field numbers follow TensorFlow's event.proto
// and summary.proto: Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5};
// Summary{value=1}; Summary.Value{tag=1 string, simple_value=2 float}.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/detail/crc32c.hpp"
#include "mlp/detail/protobuf_writer.hpp"
#include "mlp/io/atomic_file.hpp"
#include "mlp/train/callback.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace mlp {

// The bytes of one TFRecord around `data`.
inline std::string tfrecord(const std::string& data) {
  std::string header;
  const std::uint64_t length = data.size();
  for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  std::string out = header;
  auto put_u32 = [&out](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put_u32(detail::masked_crc32c(header.data(), 8));
  out += data;
  put_u32(detail::masked_crc32c(data.data(), data.size()));
  return out;
}

inline std::string tensorboard_file_version_event(double wall_time) {
  detail::ProtoWriter event;
  event.double_field(1, wall_time);
  event.bytes_field(3, "brain.Event:2");
  return event.bytes();
}

inline std::string tensorboard_scalars_event(double wall_time, std::int64_t step,
                                             const std::vector<std::pair<std::string, double>>& scalars) {
  detail::ProtoWriter summary;
  for (const auto& [tag, value] : scalars) {
    if (!std::isfinite(value)) continue;  // TensorBoard cannot plot NaN (no validation set)
    detail::ProtoWriter v;
    v.bytes_field(1, tag);
    v.float_field(2, static_cast<float>(value));
    summary.bytes_field(1, v.bytes());
  }
  detail::ProtoWriter event;
  event.double_field(1, wall_time);
  event.int64_field(2, step);
  event.bytes_field(5, summary.bytes());
  return event.bytes();
}

// The scalars logged for one epoch.
// The scalars logged for one epoch (custom metrics under their own names).
inline std::vector<std::pair<std::string, double>> tensorboard_scalars(const EpochLog& e) {
  std::vector<std::pair<std::string, double>> scalars = {
      {"loss/train", e.train_loss}, {"loss/val", e.val_loss}, {"accuracy/train", e.train_acc},
      {"accuracy/val", e.val_acc},  {"lr", e.lr},             {"penalty", e.penalty},
      {"time/epoch_seconds", e.seconds}};
  for (const auto& [name, value] : e.custom) scalars.emplace_back(name, value);
  return scalars;
}

template <class S = float>
class TensorBoardLogger final : public Callback<S> {
 public:
  explicit TensorBoardLogger(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "tensorboard"; }
  bool writes_every_metric() const override { return true; }

  // Starts a fresh event file. A run that goes on (a resume, or another fit() of the Trainer)
  // replaces the folder's event files, its earlier attempt's, and writes the history so far again,
  // so the events match the run. A new run refuses a folder that holds event files already, other
  // than the ones this logger wrote: they are another run's (TensorBoard shows a folder as one
  // run), and were deleted.
  void on_train_begin(TrainContext<S>& ctx) override {
    ensure_directory(dir_);
    const bool goes_on = ctx.resumed || !ctx.history.epochs.empty();
    if (goes_on) {
      remove_files_with_prefix(dir_, kPrefix);
    } else {
      // (a fit() again after one that ended before its first epoch: the file is this logger's own)
      if (!path_.empty()) std::filesystem::remove(path_);
      const std::string other = first_event_file();
      detail::require<IoError>(other.empty(), "'", dir_.string(), "' holds TensorBoard event files of another run ('",
                               other, "'), which TensorBoard would show as one run with this one's: give each run "
                               "a folder of its own, or remove them");
    }
    const double now = wall_time();
    path_ = dir_ / detail::concat(kPrefix, static_cast<long long>(now), ".", host_name(), ".", process_id(), ".",
                                  next_file_number());
    std::string bytes = tfrecord(tensorboard_file_version_event(now));
    for (const EpochLog& e : ctx.history.epochs) {
      bytes += tfrecord(tensorboard_scalars_event(now, e.epoch, tensorboard_scalars(e)));
    }
    write_file_atomically(path_, bytes);
  }

  void on_epoch_end(TrainContext<S>& ctx) override {
    append(tfrecord(tensorboard_scalars_event(wall_time(), ctx.log->epoch, tensorboard_scalars(*ctx.log))));
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  void append(const std::string& bytes) const {
    // (appending would make a new file without its version record, which TensorBoard skips)
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec)) {
      detail::fail<IoError>("the TensorBoard event file '", path_.string(), "' was removed during training");
    }
    errno = 0;
    std::FILE* f = std::fopen(path_.string().c_str(), "ab");
    bool ok = f != nullptr && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    const int code = errno;
    if (f != nullptr) ok = std::fclose(f) == 0 && ok;
    if (!ok) detail::fail<IoError>("cannot append to '", path_.string(), "': ", detail::errno_text(code != 0 ? code : errno));
  }
  static constexpr const char* kPrefix = "events.out.tfevents.";

  std::string first_event_file() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      std::string name = entry.path().filename().string();
      if (name.rfind(kPrefix, 0) == 0) return name;
    }
    return {};
  }
  // (two loggers of one process in one second wrote one file name)
  static long long next_file_number() {
    static std::atomic<long long> count{0};
    return ++count;
  }
  static long long process_id() {
#if defined(__unix__) || defined(__APPLE__)
    return static_cast<long long>(::getpid());
#else
    return 0;
#endif
  }
  static double wall_time() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  static std::string host_name() {
    char name[256] = "localhost";
#if defined(__unix__) || defined(__APPLE__)
    if (gethostname(name, sizeof name) != 0) std::snprintf(name, sizeof name, "localhost");
    name[sizeof name - 1] = '\0';
#endif
    return name;
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
};

}  // namespace mlp
