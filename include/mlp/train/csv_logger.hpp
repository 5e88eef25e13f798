// Writes metrics.csv: one row per epoch, rewritten whole (atomically) after every epoch from the
// trainer's history, so the file always matches a completed epoch, also after a resume.
//   epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,penalty
#pragma once

#include "mlp/io/atomic_file.hpp"
#include "mlp/train/callback.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

namespace mlp {

inline std::string metrics_csv(const History& history) {
  std::string out = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,penalty\n";
  char row[256];
  for (const EpochLog& e : history.epochs) {
    std::snprintf(row, sizeof row, "%d,%.8g,%.8g,%.8g,%.8g,%.8g,%.4f,%.8g\n", e.epoch, e.train_loss,
                  e.train_acc, e.val_loss, e.val_acc, e.lr, e.seconds, e.penalty);
    out += row;
  }
  return out;
}

template <class S = float>
class CsvLogger final : public Callback<S> {
 public:
  explicit CsvLogger(std::filesystem::path path) : path_(std::move(path)) {}
  std::string name() const override { return "csv_logger"; }
  void on_train_begin(TrainContext<S>& ctx) override { write_file_atomically(path_, metrics_csv(ctx.history)); }
  void on_epoch_end(TrainContext<S>& ctx) override { write_file_atomically(path_, metrics_csv(ctx.history)); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mlp
