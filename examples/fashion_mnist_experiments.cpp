// fashion_mnist_experiments: the whole study of docs/protocol.md in one command.
//
//   fashion_mnist_experiments [--seeds N|s,s,...] [--data DIR] [--out runs] [--only id|id/seed-s,...]
//                             [--epochs N] [--threads N] [--precision fp32|bf16] [--quick] [--force]
//                             [--report-only] [--compare-to OTHER_OUT]
//                             [--slurm [--partition P] [--time T] [--cpus-per-task N] [--submit]]
//
// Runs the baseline, the eleven one-change experiments, `best`, and the CNN with a matched MLP,
// each with every seed (default 5), several cells at a time (one thread each). Each cell writes
// metrics.csv, TensorBoard events, best.mlp and summary.json into <out>/<id>/seed-<s>/; the study
// writes samples.png, figures/*.svg and report.md. Finished cells are recognized by their summary
// and not recomputed; an interrupted study continues where it stopped. With --slurm the cells
// become a Slurm job array (docs/scale-out.md). With --compare-to the report compares each cell
// with the same cell of another study (e.g. this one in bf16 against that one in fp32).
#include "common/cli.hpp"
#include "common/data_facts.hpp"
#include "common/interrupt.hpp"
#include "common/threads.hpp"
#include "study/compare.hpp"
#include "study/cost.hpp"
#include "study/figures.hpp"
#include "study/options.hpp"
#include "study/report.hpp"
#include "study/runner.hpp"
#include "study/slurm.hpp"

#include <mlp/data/locate.hpp>
#include <mlp_app/sample_grid.hpp>

#include <algorithm>
#include <cstddef>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

namespace {

using study::CellStatus;

struct Study {
  study::StudyOptions opt;
  std::vector<study::Experiment> experiments;  // the cells point into it: never resized
  mlp::PreparedData data;
  std::string facts;
  std::vector<study::CellStatus> statuses;     // every cell of the study
  std::optional<study::OtherStudy> other;      // --compare-to: read once, before any training
  double data_seconds = 0.0;
  study::Clock::time_point start;
};

mlp::Shape input_shape(const mlp::PreparedData& d) {
  return {d.data.train.shape.channels, d.data.train.shape.height, d.data.train.shape.width};
}

// The parameter counts of the CNN and of the MLP matched to it, on these images.
void print_parameters(const Study& s) {
  const mlp::Index classes = s.data.data.train.classes();
  std::string counts;
  for (const auto& x : s.experiments) {
    if (x.id != "cnn" && x.id != "mlp_matched") continue;
    try {
      counts += (counts.empty() ? "" : ", ") + x.id + " " +
                study::fmt("%.0f", study::model_cost(x.config, input_shape(s.data), classes).parameters);
    } catch (const mlp::Error& e) {  // images too small for the CNN: its cells will fail and say so
      counts += (counts.empty() ? "" : ", ") + x.id + " (" + e.what() + ")";
    }
  }
  std::printf("parameters: %s (the MLP matched to the CNN)\n\n", counts.c_str());
}

// Loads the data, configures every experiment for it and these flags, and looks at every cell.
void prepare(Study& s) {
  const auto dir = mlp::locate_dataset(s.opt.dataset, s.opt.data_flag);
  mlp::TrainTestData loaded = mlp::load_dataset(s.opt.dataset, dir);
  const mlp::Index validation = mlp::default_validation_size(loaded.train.size());
  s.data = mlp::prepare_data(s.opt.dataset, dir, std::move(loaded), validation, 42);
  for (auto& x : s.experiments) {
    x.config.validation = validation;
    if (s.opt.quick) x.config.train_limit = 2000, x.config.epochs = 2;
    if (s.opt.epochs > 0) x.config.epochs = s.opt.epochs;
    x.config.patience = std::min(x.config.patience, x.config.epochs);
    x.config.threads = s.opt.cell_threads;
    x.config.precision = s.opt.precision;
  }
  s.data_seconds = std::chrono::duration<double>(study::Clock::now() - s.start).count();
  std::ostringstream facts;
  cli::print_data_facts(facts, s.data);
  s.facts = facts.str();
  std::cout << s.facts;
  const auto train_images = static_cast<mlp::Index>(s.data.split.train.size());
  if (s.opt.quick && train_images < 2000) {  // (train_limit takes at most what there is)
    std::printf("note: --quick takes 2,000 training images, but the training split has %lld: each cell trains on "
                "all of them and validates on %lld\n",
                static_cast<long long>(train_images),
                static_cast<long long>(s.experiments.front().config.validation_images(validation)));
  }
  const auto cells = study::make_cells(s.experiments, s.opt.seeds);
  s.statuses = study::inspect_cells(s.opt.out, cells, mlp::app::DataIdentity(s.data));
  if (!s.opt.compare_to.empty()) s.other = study::read_other_study(s.opt.compare_to, cells, mlp::app::DataIdentity(s.data));
  print_parameters(s);
}

std::size_t finished_count(const Study& s) {
  return static_cast<std::size_t>(std::count_if(s.statuses.begin(), s.statuses.end(),
                                                [](const auto& c) { return c.state == CellStatus::State::Finished; }));
}

// samples.png, the figures and report.md from the finished cells.
void write_outputs(const Study& s, int trained) {
  mlp::ensure_directory(s.opt.out);
  mlp::app::write_png(s.opt.out / "samples.png", mlp::app::make_sample_grid(s.data.data.train, s.data.split.train, 10, 3));
  study::ReportInput in;
  in.experiments = s.experiments;
  in.seeds = s.opt.seeds;
  in.statuses = s.statuses;
  for (const auto& c : s.statuses) {
    if (c.result) in.results[c.cell.experiment->id][c.cell.seed] = *c.result;
  }
  in.data_facts = s.facts;
  in.train_images = static_cast<mlp::Index>(s.data.split.train.size());  // the report says how many of them each cell used
  in.cnn = {s.data.data.train.class_names, input_shape(s.data)};
  in.figures = study::write_figures(s.opt.out, in.results, s.opt.seeds, s.data.data.train.class_names);
  in.timing.data_seconds = s.data_seconds;
  in.timing.jobs = s.opt.jobs;
  in.timing.trained = trained;
  in.timing.cell_threads = s.opt.cell_threads;
  in.timing.cores = static_cast<int>(cli::machine_cores());
  in.timing.wall_seconds = std::chrono::duration<double>(study::Clock::now() - s.start).count();
  in.compared = s.other;
  study::write_report(s.opt.out, in);
  if (s.other) std::printf("\n%s\n", study::comparison_line(s.experiments, in.results, *s.other).c_str());
  std::printf("\n%zu of %zu cells finished; wrote %s and %s\n", finished_count(s), s.statuses.size(),
              (s.opt.out / "samples.png").string().c_str(), (s.opt.out / "figures").string().c_str());
}

// One line per experiment: its mean test accuracy over the finished seeds.
void print_summary(const Study& s) {
  std::printf("\n%zu %s in %s:", finished_count(s), finished_count(s) == 1 ? "cell" : "cells",
              study::secs(std::chrono::duration<double>(study::Clock::now() - s.start).count()).c_str());
  for (const auto& x : s.experiments) {
    std::vector<double> acc;
    for (const auto& c : s.statuses) {
      if (c.result && c.cell.experiment == &x) acc.push_back(c.result->test_best.accuracy);
    }
    if (!acc.empty()) std::printf(" %s %s", x.id.c_str(), study::pct(mlp::app::summarize(acc).mean).c_str());
  }
  std::printf("\n");
}

int report_only(const Study& s) {
  if (finished_count(s) == 0) {
    const auto& first = s.statuses.front();
    throw mlp::IoError("no finished cell of this study in '" + s.opt.out.string() + "' (" + std::to_string(s.statuses.size()) +
                       " cells; " + first.cell.name() + ": " + study::why_not_finished(first) +
                       "); nothing was written: check --out, --seeds, --epochs and --quick, or run the study first");
  }
  write_outputs(s, 0);
  for (const auto& c : s.statuses) {
    if (c.state != CellStatus::State::Finished) std::printf("  not finished: %s: %s\n", c.cell.name().c_str(), study::why_not_finished(c).c_str());
  }
  std::printf("report: %s\n", (s.opt.out / "report.md").string().c_str());
  return 0;
}

// The program and flags every job of this study runs with (absolute paths: jobs run elsewhere).
std::vector<std::string> study_command(const Study& s) {
  std::vector<std::string> words = {std::filesystem::read_symlink("/proc/self/exe").string(),
                                    "--dataset", mlp::to_string(s.opt.dataset),
                                    "--data", std::filesystem::absolute(s.data.dir).lexically_normal().string(),
                                    "--out", std::filesystem::absolute(s.opt.out).lexically_normal().string(),
                                    "--seeds", study::seeds_flag(s.opt.seeds),
                                    "--threads", "1", "--cell-threads", std::to_string(s.opt.cell_threads),
                                    "--precision", mlp::to_string(s.opt.precision)};
  if (s.opt.quick) words.push_back("--quick");
  if (s.opt.epochs > 0) words.insert(words.end(), {"--epochs", std::to_string(s.opt.epochs)});
  return words;
}

int slurm(const Study& s) {
  const auto dir = std::filesystem::absolute(s.opt.out).lexically_normal() / "slurm";
  const study::Selection selection(s.opt.only_flag, s.experiments, s.opt.seeds);
  const auto queue = study::plan_training(s.statuses, selection, s.opt.force, s.opt.out);
  const auto selected = std::count_if(s.statuses.begin(), s.statuses.end(), [&](const CellStatus& c) { return selection.contains(c.cell); });
  std::printf("%s", study::unusable_notes(queue).c_str());
  std::vector<std::string> names;
  for (const CellStatus* c : queue) {
    if (s.opt.force) study::clear_cell_folder(c->cell.folder(s.opt.out));  // the tasks then just train
    names.push_back(c->cell.name());
  }
  mlp::ensure_directory(dir / "logs");
  const auto command = study_command(s);
  auto report_command = command;  // the report job also compares (the tasks write no report)
  if (s.other) {
    report_command.insert(report_command.end(),
                          {"--compare-to", std::filesystem::absolute(s.opt.compare_to).lexically_normal().string()});
  }
  // An earlier invocation's array script would list other cells: with none to run, none is left.
  if (names.empty()) std::filesystem::remove(dir / "cells.sbatch");
  else mlp::write_file_atomically(dir / "cells.sbatch", study::array_script(names, command, dir / "logs", s.opt.slurm_options));
  mlp::write_file_atomically(dir / "report.sbatch", study::report_script(report_command, dir / "logs", s.opt.slurm_options));
  std::printf("wrote %s%s (%zu of the %td %scells to run%s)\n",
              names.empty() ? "" : ((dir / "cells.sbatch").string() + " and ").c_str(), (dir / "report.sbatch").string().c_str(),
              names.size(), selected, selection.all() ? "" : "selected ",
              static_cast<std::ptrdiff_t>(names.size()) < selected ? "; the others are finished" : "");
  const std::string cells = (dir / "cells.sbatch").string(), report = (dir / "report.sbatch").string();
  if (!s.opt.slurm_options.submit) {
    const std::string array_command = "array=$(sbatch --parsable " + study::shell_quote(cells) +
                                      ") && sbatch --dependency=afterok:$array --kill-on-invalid-dep=yes ";
    std::printf("submit with:\n  %s%s\n", names.empty() ? "sbatch " : array_command.c_str(), study::shell_quote(report).c_str());
    return 0;
  }
  const std::string array = names.empty() ? "" : study::sbatch({cells});
  const std::string final_job = array.empty() ? study::sbatch({report})
                                              : study::sbatch({"--dependency=afterok:" + array, "--kill-on-invalid-dep=yes", report});
  if (!array.empty()) std::printf("array job: %s (%zu tasks, logs in %s)\n", array.c_str(), names.size(), (dir / "logs").string().c_str());
  std::printf("report job: %s (runs when every task has succeeded: writes %s)\n", final_job.c_str(),
              (std::filesystem::absolute(s.opt.out).lexically_normal() / "report.md").string().c_str());
  return 0;
}

// The cells to train, longest first, with their costs.
std::vector<const study::Cell*> order_queue(const Study& s, const std::vector<const CellStatus*>& planned, std::vector<double>& costs) {
  std::vector<std::pair<double, const study::Cell*>> q;
  const auto& d = s.data;
  for (const CellStatus* c : planned) {
    double cost = 0.0;  // a model that does not fit the images fails at once
    try {
      cost = study::cell_cost(c->cell, input_shape(d), d.data.train.classes(), static_cast<mlp::Index>(d.split.train.size()),
                              d.data.test.size());
    } catch (const mlp::Error&) {
    }
    q.push_back({cost, &c->cell});
  }
  std::stable_sort(q.begin(), q.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<const study::Cell*> queue;
  for (const auto& [cost, cell] : q) costs.push_back(cost), queue.push_back(cell);
  return queue;
}

void apply_outcomes(Study& s, const std::vector<study::CellOutcome>& outcomes) {
  for (const auto& o : outcomes) {
    for (auto& c : s.statuses) {
      if (c.cell.name() != o.cell->name()) continue;
      if (!o.error.empty()) c.state = CellStatus::State::Failed, c.detail = o.error, c.result.reset();
      else if (o.result.interrupted) c.state = CellStatus::State::Interrupted, c.result.reset();
      else c.state = CellStatus::State::Finished, c.result = o.result;
    }
  }
}

// After training: the summary, the report (unless only part of the study ran and some of it is
// missing: a report of 1 of 70 cells must not replace a whole study's), and the exit status.
int finish(const Study& s, const study::Selection& only, const std::vector<study::CellOutcome>& outcomes) {
  const bool failed = std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return !o.error.empty(); });
  const auto trained = std::count_if(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.error.empty(); });
  print_summary(s);
  if (s.opt.no_report) {
    std::printf("no report written (--no-report)\n");
  } else if (!only.all() && finished_count(s) < s.statuses.size()) {
    std::printf("report.md not rewritten: --only ran part of the study and %zu of its %zu cells are not finished; "
                "--report-only writes a report of the finished ones\n", s.statuses.size() - finished_count(s), s.statuses.size());
  } else {
    write_outputs(s, static_cast<int>(trained));
    std::printf("report: %s\n", (s.opt.out / "report.md").string().c_str());
  }
  if (failed) {
    std::fflush(stdout);  // the summary above first, then the error
    std::fprintf(stderr, "fashion_mnist_experiments: error: some cells failed (see above; each error is also in "
                         "<out>/<id>/seed-<s>.error)\n");
    return cli::kExitFailure;
  }
  return 0;
}

int train(Study& s) {
  const study::Selection only(s.opt.only_flag, s.experiments, s.opt.seeds);
  const auto planned = study::plan_training(s.statuses, only, s.opt.force, s.opt.out);
  std::printf("%s", study::unusable_notes(planned).c_str());
  if (const int got = cli::set_threads(s.opt.cell_threads); got != s.opt.cell_threads) {
    throw cli::UsageError("--cell-threads " + std::to_string(s.opt.cell_threads) + ": only " + std::to_string(got) +
                          " thread(s) can run (a build without OpenMP, or OMP_THREAD_LIMIT)");
  }
  std::vector<double> costs;
  const auto queue = order_queue(s, planned, costs);
  const std::size_t done_before = finished_count(s) - (s.opt.force ? std::count_if(planned.begin(), planned.end(),
      [](const CellStatus* c) { return c->state == CellStatus::State::Finished; }) : 0);
  std::printf("%zu of %zu cells finished earlier with this configuration (not recomputed); training %zu, %d at a time, "
              "%s matrix products\n\n", done_before, s.statuses.size(), queue.size(),
              std::min<int>(s.opt.jobs, static_cast<int>(std::max<std::size_t>(queue.size(), 1))), mlp::to_string(s.opt.precision));
  if (!queue.empty()) cli::note_precision(s.opt.precision);
  cli::install_interrupt_handler();
  study::RunnerOptions ro{s.opt.out, s.opt.jobs, s.opt.force, done_before, s.statuses.size()};
  const auto outcomes = study::run_cells(queue, costs, s.data, ro, std::cout);
  apply_outcomes(s, outcomes);
  if (cli::interrupt_flag().load()) {
    std::printf("\ninterrupted: finished cells are kept and interrupted ones saved a checkpoint; run the same command "
                "again to continue\n");
    return 130;
  }
  return finish(s, only, outcomes);
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("fashion_mnist_experiments", [&] {
    Study s;
    s.start = study::Clock::now();
    cxxopts::Options options = study::study_flags();
    const auto flags = options.parse(argc, argv);
    if (flags.count("help")) {
      std::cout << options.help() << "\n";
      return 0;
    }
    s.opt = study::parse_study_options(flags);
    s.experiments = study::all_experiments(s.opt.dataset);
    if (s.opt.list) {
      for (const auto& x : s.experiments) std::printf("%-15s %s\n", x.id.c_str(), x.change.c_str());
      return 0;
    }
    study::Selection(s.opt.only_flag, s.experiments, s.opt.seeds);  // a bad --only fails before the data loads
    if (s.opt.slurm && s.opt.slurm_options.submit && study::find_in_path("sbatch").empty()) {
      throw mlp::IoError("--submit needs Slurm's sbatch, which is not installed here (not in PATH); install Slurm "
                         "(Debian: slurm-wlm) or leave out --submit to only write the job scripts");
    }
    if (!s.opt.compare_to.empty()) study::require_other_folder(s.opt.compare_to);  // before the data loads
    // Before the data loads: an --out that cannot be written fails once, not once per cell.
    // --report-only creates no folder (an empty one has no cells to report).
    study::require_writable_folder(s.opt.out, !s.opt.report_only);
    prepare(s);
    if (s.opt.report_only) return report_only(s);
    if (s.opt.slurm) return slurm(s);
    return train(s);
  });
}
