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
#include <map>
#include <optional>
#include <set>
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
  mlp::Index train_images = 0;       // of the split, before a cell's train_limit (0: not known)
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
  // With cells missing, a comparison pairs only the seeds finished on both sides: fewer than n.
  const bool complete = std::all_of(in.statuses.begin(), in.statuses.end(),
                                    [](const CellStatus& c) { return c.state == CellStatus::State::Finished; });
  s << "# Experiment report\n\nWritten by `fashion_mnist_experiments` from the cells in this folder: every experiment "
    << (complete ? "ran with " : "is planned with ") << (n == 1 ? "one seed (" : std::to_string(n) + " seeds (")
    << seed_list_text(in.seeds) << ")" << (complete ? "" : ", but not every cell is finished (section Cells)") << ", "
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
         "of the ";
    if (complete) {
      s << n << " paired differences and its 95% confidence interval (Student's t, " << n - 1
        << (n == 2 ? " degree" : " degrees") << " of freedom).";
    } else {
      s << "paired differences over the seeds finished on both sides (up to " << n << "; each table says how many) "
           "and its 95% confidence interval (Student's t, one degree of freedom fewer than the pairs).";
    }
    const std::string k = complete ? std::to_string(n) : "k";  // (k: the pairs of that comparison)
    s << " The verdict is \"better\" or \"worse\" when the interval excludes 0, and \"no "
         "difference detectable with " << k << " seeds\" when it includes 0; the observations describe an effect only "
         "in the first case. When every seed gives the same difference, the seeds did not vary it: there is no "
         "interval and no verdict (\"no spread across the " << k << " seeds\"). An interval is printed as computed even "
         "where it reaches past the possible range (two accuracies differ by at most 100 pp), with a note that the "
         "seeds are too few to bound it.\n\n";
  }
  return s.str();
}

// "50,000": counts as the data facts above them write them.
inline std::string thousands(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n), text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return (n < 0 ? "-" : "") + text;
}

// "trained on the first 2,000 of the split's 50,000 training images and validated on the first 400
// of its 10,000 validation images": what a cell used, from its own configuration.
inline std::string images_used_text(const mlp::app::RunConfig& c, mlp::Index train_images) {
  const std::string train = train_images > 0 ? " of the split's " + thousands(train_images) : "";
  const std::string validation = " of its " + thousands(c.validation);
  if (c.train_limit <= 0) {
    return "trained on all" + train + " training images and validated on all" + validation + " validation images";
  }
  const mlp::Index used = train_images > 0 ? c.train_images(train_images) : c.train_limit;
  const mlp::Index validated = c.validation_images(c.validation);
  return "trained on " + (used == train_images ? "all" + train : "the first " + thousands(used) + train) +
         (used == 1 ? " training image" : " training images") + " and validated on " +
         (validated == c.validation ? "all" + validation : "the first " + thousands(validated) + validation) +
         (validated == 1 ? " validation image" : " validation images");
}

// The images the finished cells trained and validated on, which the data facts (the whole split)
// do not show: with --quick (a train_limit) far fewer. One sentence when all cells agree, else one
// line per way, with its experiments.
inline std::string data_used_text(const ReportInput& in) {
  std::map<std::string, std::vector<std::string>> ids_by_use;
  for (const auto& x : in.experiments) {
    const SeedRuns* r = runs_of(in.results, x.id);
    if (r == nullptr) continue;
    std::set<std::string> seen;
    for (const auto& [seed, run] : *r) {
      const std::string use = images_used_text(run.config, in.train_images);
      if (seen.insert(use).second) ids_by_use[use].push_back(x.id);
    }
  }
  if (ids_by_use.empty()) return "";
  if (ids_by_use.size() == 1) {
    return "Every finished cell " + ids_by_use.begin()->first + "; every test result is on the whole test set.\n\n";
  }
  std::string text = "The finished cells did not all use the same images (every test result is on the whole test set):\n\n";
  for (const auto& [use, ids] : ids_by_use) {
    text += "- " + use + ":";
    for (const auto& id : ids) text += " `" + id + "`";
    text += "\n";
  }
  return text + "\n";
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
    << "```\n\n" << data_used_text(in) << "![samples](samples.png)\n\n## All experiments, over seeds\n\n" << summary_table(in.experiments, R)
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
