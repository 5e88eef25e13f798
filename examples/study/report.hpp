// report.md: the study over seeds. Per experiment the mean and spread over seeds, the paired
// differences from the baseline with their 95% intervals and verdicts, with --compare-to the paired
// differences from another study's cells (compare.hpp), each comparison's figure with observations
// computed from the numbers (worded by compare(): an effect is described only when its interval
// excludes 0), the CNN against the matched MLP, every cell, and the time.
#pragma once

#include "cells.hpp"
#include "compare.hpp"
#include "observe_cnn.hpp"
#include "observe_models.hpp"
#include "observe_training.hpp"
#include "report_tables.hpp"

#include <mlp/io/atomic_file.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace study {

struct ReportInput {
  std::vector<Experiment> experiments;
  std::vector<std::uint64_t> seeds;
  std::vector<CellStatus> statuses;  // every cell of the study, finished or not
  StudyResults results;              // the finished ones
  std::string data_facts;
  CnnContext cnn;
  std::vector<std::string> figures;  // written, relative to the report
  StudyTiming timing;
  std::optional<OtherStudy> compared;  // --compare-to
};

// The sentence on the precision of the matrix products, which every experiment shares (--precision).
inline std::string precision_text(const std::vector<Experiment>& experiments) {
  if (experiments.empty()) return "";
  const auto p = experiments.front().config.precision;
  for (const auto& x : experiments) {
    if (x.config.precision != p) return "The precision of the matrix products differs between experiments.\n\n";
  }
  if (p == mlp::MatmulPrecision::Float32) return "The matrix products ran in fp32 (`--precision fp32`).\n\n";
  return "The matrix products of the linear and convolution layers ran in **bf16** (`--precision bf16`): their inputs "
         "rounded to bfloat16, the products accumulated in fp32; weights, gradients, optimizer state and the loss stay "
         "fp32 (docs/bf16.md).\n\n";
}

inline std::string seed_list_text(const std::vector<std::uint64_t>& seeds) {
  std::string text;
  for (std::size_t i = 0; i < seeds.size(); ++i) text += (i ? ", " : "") + std::to_string(seeds[i]);
  return text;
}

inline std::string report_intro(const ReportInput& in) {
  std::ostringstream s;
  const std::size_t n = in.seeds.size();
  s << "# Experiment report\n\nWritten by `fashion_mnist_experiments` from the cells in this folder: every experiment "
    << "ran with " << (n == 1 ? "one seed (" : std::to_string(n) + " seeds (") << seed_list_text(in.seeds) << "), "
    << "each (experiment, seed) in its own folder `<id>/seed-<s>/`. The seed sets the initial weights, the shuffling "
       "and the dropout masks; the split (drawn with seed 42) and the preprocessing are the same everywhere, and each "
       "experiment changes one thing from the baseline (`best` combines several; `cnn` and `mlp_matched` compare a "
       "CNN with an MLP of as many parameters). Test results are those of the checkpoint with the lowest validation "
       "loss (\"best ckpt\").\n\n"
    << precision_text(in.experiments);
  if (n == 1) {
    s << "With one seed there is no confidence interval: differences between experiments are listed, but none is "
         "claimed as an effect (run with `--seeds 5` for intervals).\n\n";
  } else {
    s << "An experiment is compared with the baseline of the same seed (a paired design): the report gives the mean "
         "of the " << n << " paired differences and its 95% confidence interval (Student's t, " << n - 1
      << (n == 2 ? " degree" : " degrees") << " of freedom). The verdict is \"better\" or \"worse\" when the interval excludes 0, and \"no "
         "difference detectable with " << n << " seeds\" when it includes 0; the observations describe an effect only "
         "in the first case.\n\n";
  }
  return s.str();
}

struct Section {
  std::string title, figure, text;
};

inline std::string figure_sections(const ReportInput& in) {
  const auto& R = in.results;
  const std::vector<Section> sections = {
      {"Early stopping", "early_stopping", observe_early_stopping(R)},
      {"Architecture", "architecture", observe_architecture(R)},
      {"Regularization", "regularization", observe_regularization(R)},
      {"Learning-rate schedule", "schedule", observe_schedule(R)},
      {"BatchNorm", "batchnorm", observe_batchnorm(R)},
      {"Optimizer", "optimizer", observe_optimizer(R)},
      {"CNN vs an MLP with as many parameters", "cnn_vs_mlp", observe_cnn(R, in.cnn)},
  };
  auto has = [&](const std::string& f) { return std::find(in.figures.begin(), in.figures.end(), f) != in.figures.end(); };
  const std::string seed_folder = "figures/seed-" + std::to_string(in.seeds.front()) + "/";
  std::ostringstream s;
  for (const auto& sec : sections) {
    const std::string figure = "figures/" + sec.figure + ".svg";
    if (!has(figure) && sec.text.empty()) continue;
    s << "\n## " << sec.title << "\n\n";
    if (has(figure)) s << "![" << sec.title << "](" << figure << ")\n\n";
    if (has(seed_folder + sec.figure + ".svg")) {
      s << "[The same figure for seed " << in.seeds.front() << " alone](" << seed_folder << sec.figure << ".svg)\n\n";
    }
    s << sec.text;
    if (sec.figure == "cnn_vs_mlp" && has("figures/cnn_confusion.svg") && has("figures/mlp_matched_confusion.svg")) {
      s << "\n![CNN confusion matrix](figures/cnn_confusion.svg)\n\n![MLP confusion matrix](figures/mlp_matched_confusion.svg)\n";
    }
  }
  return s.str();
}

inline std::string report_text(const ReportInput& in) {
  std::ostringstream s;
  const auto& R = in.results;
  s << report_intro(in) << "## Cells\n\n" << cells_section(in.statuses) << "\n## Data\n\n```\n" << in.data_facts
    << "```\n\n![samples](samples.png)\n\n## All experiments, over seeds\n\n" << summary_table(in.experiments, R)
    << "\n## Effects: paired differences from the baseline\n\n" << effects_table(in.experiments, R);
  if (in.compared) {
    s << "\n## Compared with another study: `" << in.compared->folder.string() << "`\n\n"
      << comparison_section(in.experiments, R, *in.compared);
  }
  s << figure_sections(in);
  if (runs_of(R, "best") != nullptr) {
    s << "\n## The best configuration\n\n" << observe_best(R, in.experiments) << "\n";
    if (std::find(in.figures.begin(), in.figures.end(), "figures/best_confusion.svg") != in.figures.end()) {
      s << "![confusion matrix](figures/best_confusion.svg)\n\n![per-class accuracy](figures/best_per_class.svg)\n";
    }
  }
  s << "\n## Every cell\n\n" << cells_table(in.experiments, R) << "\n## Time\n\n"
    << time_section(in.experiments, R, in.timing);
  return s.str();
}

inline void write_report(const std::filesystem::path& out, const ReportInput& in) {
  mlp::write_file_atomically(out / "report.md", report_text(in));
}

}  // namespace study
