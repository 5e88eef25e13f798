// bench_training --csv: one line per measured row, under a header line that names the columns
// (docs/performance.md, "How it was measured"). The columns after the measurement say what makes a
// row other than the protocol's step: fewer images, CPU time, another optimizer, the thread
// governor's switches (0 with it off), no fusion, subnormals kept.
#pragma once

#include <mlp/core/errors.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace bench {

inline constexpr const char* kCsvHeader =
    "system,model,threads,seconds_per_epoch,gflops,peak_gflops,precision,images_per_epoch,clock,optimizer,"
    "thread_governor,governor_switches,threads_at_end,relu_fusion,flush_denormals";

struct CsvRow {
  std::string model;
  int threads = 1;
  double seconds_per_epoch = 0.0;  // the median after the warm-up
  double gflops = 0.0;             // of the step's matrix products
  double peak_gflops = 0.0;        // the fp32 GEMM peak at `threads`
  std::string precision;           // "fp32" or "bf16"
  long long images_per_epoch = 0;
  bool cpu_time = false;           // timed with the process's CPU time (--cpu-time)
  std::string optimizer;
  bool thread_governor = true;     // off with --fixed-threads
  int governor_switches = 0;
  int threads_at_end = 1;          // the count the governor ended on (`threads` with it off)
  bool relu_fusion = true;
  bool flush_denormals = true;
};

inline std::string csv_line(const CsvRow& r) {
  const auto on = [](bool b) { return b ? "on" : "off"; };
  std::ostringstream line;
  line << "mlp," << r.model << ',' << r.threads << ',' << r.seconds_per_epoch << ',' << r.gflops << ','
       << r.peak_gflops << ',' << r.precision << ',' << r.images_per_epoch << ',' << (r.cpu_time ? "cpu" : "wall")
       << ',' << r.optimizer << ',' << on(r.thread_governor) << ',' << r.governor_switches << ','
       << r.threads_at_end << ',' << on(r.relu_fusion) << ',' << on(r.flush_denormals);
  return line.str();
}

// `path` opened for appending rows: a new or empty file gets the header first. A file whose first
// line is not the header (another program's file, or rows of a bench_training from before the
// columns had one, 2026-12-05) is refused and left as it was, so that no file mixes two layouts.
inline std::ofstream open_csv(const std::string& path) {
  std::string first;
  bool empty = true;
  if (std::ifstream existing(path); existing) {
    empty = existing.peek() == std::ifstream::traits_type::eof();
    std::getline(existing, first);
  }
  if (!empty && first != kCsvHeader) {
    throw mlp::IoError("--csv: '" + path + "' does not start with bench_training's header line (" +
                       (first.size() > 40 ? first.substr(0, 40) + "..." : first) +
                       "); give a new file or one that bench_training wrote");
  }
  std::ofstream csv(path, std::ios::app);
  if (!csv) throw mlp::IoError("cannot open '" + path + "' for appending: " + std::strerror(errno));
  if (empty) csv << kCsvHeader << std::endl;
  if (!csv) throw mlp::IoError("cannot write to '" + path + "'");
  return csv;
}

}  // namespace bench
