// The flags of fashion_mnist_experiments, checked and gathered. Every bad value or combination is
// a one-line UsageError naming it (exit status 2), before any data is read or any file written.
#pragma once

#include "seeds.hpp"
#include "slurm.hpp"

#include "common/cli.hpp"

#include <mlp/core/precision.hpp>
#include <mlp/data/datasets.hpp>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

namespace study {

struct StudyOptions {
  mlp::DatasetKind dataset = mlp::DatasetKind::FashionMnist;
  std::string data_flag, only_flag;
  std::filesystem::path out;
  std::vector<std::uint64_t> seeds;
  int epochs = 0;        // 0: each experiment's own
  int jobs = 2;          // cells trained at a time
  int cell_threads = 1;  // threads of each cell (recorded, but not part of its configuration: no bit depends on it)
  mlp::MatmulPrecision precision = mlp::MatmulPrecision::Float32;  // of every cell (part of its configuration)
  std::filesystem::path compare_to;  // another study's --out, compared with in the report; empty: none
  bool quick = false, force = false, list = false, report_only = false, no_report = false, slurm = false;
  SlurmOptions slurm_options;
};

inline cxxopts::Options study_flags() {
  cxxopts::Options options("fashion_mnist_experiments",
                           "The deep-learning good-practice study on FashionMNIST: every experiment over several "
                           "seeds, figures and a report");
  auto d = [](const char* value) { return cxxopts::value<std::string>()->default_value(value); };
  auto flag = [] { return cxxopts::value<bool>()->default_value("false"); };
  options.add_options()
    ("data", "folder with the data files (default: search $MLP_DATA, ./data/<dataset>, /usr/share/datasets/<dataset>)",
     cxxopts::value<std::string>())
    ("dataset", "fashion-mnist, mnist or cifar10", d("fashion-mnist"))
    ("out", "output folder (default: runs, or runs-quick with --quick)", cxxopts::value<std::string>())
    ("seeds", "number of seeds N (42, 43, ..., 42+N-1) or a list of seeds such as 42,7,19 (one seed: 7,)", d("5"))
    ("only", "comma-separated experiment ids (all their seeds) or cells such as l2/seed-43 (default: all)",
     cxxopts::value<std::string>())
    ("epochs", "epochs of every run (default: 30, and 40 for best; 2 with --quick)", cxxopts::value<std::string>())
    ("threads", "cells trained in parallel (each on --cell-threads threads)", d("2"))
    ("cell-threads", "threads of each cell (the results are the same bits at any count: finished cells are "
                     "reused whatever count trained them)", d("1"))
    ("precision", "matrix products of every cell: fp32, or bf16 (bfloat16 inputs, fp32 accumulation; part of "
                  "each cell's configuration)", d("fp32"))
    ("compare-to", "the --out folder of another study (e.g. the same study in fp32): the report compares this "
                   "study with it, cell by cell", d(""))
    ("quick", "smoke test: 2,000 training images (400 for validation), 2 epochs", flag())
    ("force", "recompute the selected cells, replacing runs of another configuration", flag())
    ("report-only", "write report.md and the figures from the finished cells, train nothing", flag())
    ("no-report", "train the selected cells only; write no report or samples (what Slurm tasks do)", flag())
    ("slurm", "write Slurm batch scripts: a job array with one task per unfinished cell, and a report job", flag())
    ("partition", "--slurm: the partition to submit to", d(""))
    ("time", "--slurm: time limit of each task, e.g. 01:00:00", d(""))
    ("cpus-per-task", "--slurm: cores of each task (each cell then uses that many threads)", d("1"))
    ("submit", "--slurm: submit both scripts with sbatch and print the job ids", flag())
    ("list", "list the experiments and exit", flag())
    ("h,help", "print this help");
  return options;
}

// Flags that only mean something with --slurm, and modes that exclude each other.
inline void check_combinations(const cxxopts::ParseResult& f, const StudyOptions& o) {
  for (const char* name : {"partition", "time", "cpus-per-task", "submit"}) {
    if (f.count(name) > 0 && !o.slurm) throw cli::UsageError(std::string("--") + name + " needs --slurm");
  }
  if (o.slurm && (o.report_only || o.no_report)) throw cli::UsageError("--slurm writes the jobs; it cannot be combined with --report-only or --no-report");
  if (o.report_only && o.no_report) throw cli::UsageError("--report-only and --no-report exclude each other");
  if (o.report_only && o.force) throw cli::UsageError("--report-only trains nothing, so --force has nothing to recompute");
  if (o.report_only && !o.only_flag.empty()) throw cli::UsageError("--report-only reports the whole study; --only selects cells to train");
  if (f.count("compare-to") > 0 && o.compare_to.empty()) throw cli::UsageError("--compare-to must not be empty");
  if (!o.compare_to.empty() && o.no_report) {
    throw cli::UsageError("--compare-to adds a section to the report; --no-report writes none");
  }
  // The same folder however it is written (runs, ./runs/, /abs/runs), existing or not.
  auto folder = [](const std::filesystem::path& p) {
    const auto full = std::filesystem::weakly_canonical(std::filesystem::absolute(p));
    return full.has_filename() ? full : full.parent_path();
  };
  if (!o.compare_to.empty() && folder(o.compare_to) == folder(o.out)) {
    throw cli::UsageError("--compare-to '" + o.compare_to.string() + "' is this study's own --out; it takes the folder of another study");
  }
  // Slurm's forms (minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes,
  // days-hours:minutes:seconds) and a list of partitions, checked here: sbatch would refuse them only
  // when the jobs are submitted.
  static const std::regex slurm_time(R"(\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2})");
  static const std::regex partitions(R"([A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*)");
  const auto& time = o.slurm_options.time;
  if (f.count("time") > 0 && !std::regex_match(time, slurm_time)) {
    throw cli::UsageError("--time takes a Slurm time limit such as 90, 01:30:00 or 2-00:00:00, but got '" + time + "'");
  }
  const auto& partition = o.slurm_options.partition;
  if (f.count("partition") > 0 && !std::regex_match(partition, partitions)) {
    throw cli::UsageError("--partition takes partition names (letters, digits, _-.) separated by commas, but got '" +
                          partition + "'");
  }
}

inline StudyOptions parse_study_options(const cxxopts::ParseResult& f) {
  cli::reject_stray_or_repeated(f);
  StudyOptions o;
  o.dataset = mlp::parse_dataset_kind(f["dataset"].as<std::string>());
  o.data_flag = cli::text_flag(f, "data");
  o.only_flag = cli::text_flag(f, "only");
  o.quick = f["quick"].as<bool>();
  o.force = f["force"].as<bool>();
  o.list = f["list"].as<bool>();
  o.report_only = f["report-only"].as<bool>();
  o.no_report = f["no-report"].as<bool>();
  o.slurm = f["slurm"].as<bool>();
  o.seeds = parse_seeds(f["seeds"].as<std::string>());
  if (const std::string text = f["seeds"].as<std::string>(); text.find(',') == std::string::npos && o.seeds.size() >= 20) {
    // (a newcomer who meant the seed 42 typed --seeds 42, and got 42 seeds)
    std::fprintf(stderr, "note: --seeds %s is a count: %zu seeds, %llu to %llu; for the one seed %s write --seeds %s,\n",
                 text.c_str(), o.seeds.size(), static_cast<unsigned long long>(o.seeds.front()),
                 static_cast<unsigned long long>(o.seeds.back()), text.c_str(), text.c_str());
  }
  const std::string precision = f["precision"].as<std::string>();
  if (precision != "fp32" && precision != "bf16") {
    throw cli::UsageError("--precision takes fp32 or bf16, but got '" + precision + "'");
  }
  o.precision = cli::precision_flag(precision);
  o.compare_to = f["compare-to"].as<std::string>();
  if (f.count("only") > 0 && o.only_flag.empty()) throw cli::UsageError("--only: no experiment given");
  // Left out: each experiment's own number of epochs; given: 1 or more.
  o.epochs = f.count("epochs") > 0 ? static_cast<int>(cli::int_flag(f, "epochs", 1, 100000)) : 0;
  o.jobs = static_cast<int>(cli::int_flag(f, "threads", 1, cli::machine_cores()));
  o.slurm_options.partition = f["partition"].as<std::string>();
  o.slurm_options.time = f["time"].as<std::string>();
  o.slurm_options.cpus_per_task = static_cast<int>(cli::int_flag(f, "cpus-per-task", 1, 1024));
  o.slurm_options.submit = f["submit"].as<bool>();
  // Slurm tasks run on other machines: their cell threads are the task's cores, and a report
  // trains nothing; only cells trained here are bounded by this machine's cores.
  if (o.slurm && f.count("cell-threads") > 0) throw cli::UsageError("with --slurm each cell uses --cpus-per-task threads");
  const bool trains_here = !o.slurm && !o.report_only;
  o.cell_threads = o.slurm ? o.slurm_options.cpus_per_task
                           : static_cast<int>(cli::int_flag(f, "cell-threads", 1, trains_here ? cli::machine_cores() : 1024));
  if (trains_here && o.jobs * o.cell_threads > cli::machine_cores()) {
    throw cli::UsageError("--threads " + std::to_string(o.jobs) + " times --cell-threads " + std::to_string(o.cell_threads) +
                          " exceeds this machine's " + std::to_string(cli::machine_cores()) + " cores");
  }
  const std::string out = cli::text_flag(f, "out");
  if (f.count("out") > 0 && out.empty()) throw cli::UsageError("--out must not be empty (use . for the current folder)");
  o.out = out.empty() ? (o.quick ? "runs-quick" : "runs") : out;
  check_combinations(f, o);
  // Before --out is created: the job scripts name it in #SBATCH lines.
  if (o.slurm) check_sbatch_path(std::filesystem::absolute(o.out).lexically_normal() / "slurm");
  return o;
}

}  // namespace study
