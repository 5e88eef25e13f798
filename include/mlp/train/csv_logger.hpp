// Writes metrics.csv: one row per epoch, rewritten whole (atomically) after every epoch from the
// trainer's history, so the file always matches a completed epoch, also after a resume.
//   epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,penalty[,custom metrics in name order]
// Values are written in the shortest form that reads back to the same double.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/io/atomic_file.hpp"
#include "mlp/train/callback.hpp"

#include <filesystem>
#include <set>
#include <string>

namespace mlp {

inline std::string metrics_csv(const History& history) {
  std::set<std::string> custom;
  for (const EpochLog& e : history.epochs) {
    for (const auto& [name, value] : e.custom) {
      // (a name written into the history by hand split the header, or gave two columns of one name)
      detail::require(is_metric_name(name) && name != "epoch" && !is_standard_metric(name), "metrics.csv: epoch ",
                      e.epoch, " has a metric named '", name, "', which cannot be a column (letters, digits and '_', ",
                      "and none of epoch and the standard metrics)");
      custom.insert(name);
    }
  }
  std::string out = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,penalty";
  for (const auto& name : custom) out += "," + name;
  out += "\n";
  for (const EpochLog& e : history.epochs) {
    out += std::to_string(e.epoch);
    for (double v : {e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.lr, e.seconds, e.penalty}) {
      out += "," + detail::shortest(v);
    }
    for (const auto& name : custom) {
      const auto it = e.custom.find(name);
      out += "," + (it == e.custom.end() ? std::string() : detail::shortest(it->second));
    }
    out += "\n";
  }
  return out;
}

template <class S = float>
class CsvLogger final : public Callback<S> {
 public:
  explicit CsvLogger(std::filesystem::path path) : path_(std::move(path)) {}
  std::string name() const override { return "csv_logger"; }
  bool writes_every_metric() const override { return true; }
  std::vector<std::filesystem::path> written_files() const override { return {path_}; }
  void on_train_begin(TrainContext<S>& ctx) override { write_file_atomically(path_, metrics_csv(ctx.history)); }
  void on_epoch_end(TrainContext<S>& ctx) override { write_file_atomically(path_, metrics_csv(ctx.history)); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mlp
