// --compare-to: this study against another study's folder, cell by cell. The other study ran the same
// experiments and seeds with another configuration (typically `--precision bf16` here and fp32
// there), so seed s here is paired with seed s there, as each experiment is paired with the baseline:
// per experiment the report gives the mean test accuracy on both sides, the paired difference (here
// minus there) with its 95% t interval, and the verdict of the rest of the report (a claim only when
// the interval excludes 0). Runs on another data split are not comparable and are refused.
#pragma once

#include "aggregate.hpp"
#include "cells.hpp"
#include "wording.hpp"

#include <mlp/core/errors.hpp>
#include <mlp_app/run_summary.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace study {

struct OtherStudy {
  std::filesystem::path folder;                    // as given
  StudyResults results;                            // its finished cells of this study's experiments and seeds
  // By experiment id and seed: what differs here from there (RunConfig::difference; "" nothing).
  std::map<std::string, std::map<std::uint64_t, std::string>> differences;
};

// The first check, made before the data loads.
inline void require_other_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    throw mlp::IoError("--compare-to '" + folder.string() + "' is not a folder (it takes the --out folder of another study)");
  }
}

// Reads the cells of `cells` (this study's: experiments, seeds and configurations) from the other
// study's folder. Throws IoError (exit status 2) when the folder is missing, holds none of them
// finished, holds one run on another data split, or one whose summary or best model cannot be used.
inline OtherStudy read_other_study(const std::filesystem::path& folder, const std::vector<Cell>& cells,
                                   const mlp::app::DataIdentity& data) {
  require_other_folder(folder);
  OtherStudy other{folder, {}, {}};
  for (const Cell& c : cells) {
    std::string problem;
    auto stored = mlp::app::read_finished_run(c.folder(folder), &problem);
    if (!stored && !problem.empty()) {
      throw mlp::IoError("--compare-to: cell " + c.name() + " in '" + folder.string() + "' cannot be used: " +
                         cli::one_line(problem) + "; repair or remove it, or compute it again in that study");
    }
    if (!stored) continue;
    if (const std::string why = mlp::app::data_mismatch(data, stored->data); !why.empty()) {
      throw mlp::IoError("--compare-to: cell " + c.name() + " in '" + folder.string() + "' ran on other data (" + why +
                         "); only runs on the same split and test set can be paired: compare studies of the same "
                         "--dataset and data");
    }
    other.differences[c.experiment->id][c.seed] = c.config.difference(stored->result.config);
    other.results[c.experiment->id][c.seed] = std::move(stored->result);
  }
  if (other.results.empty()) {
    throw mlp::IoError("--compare-to: no finished cell of this study's experiments and seeds in '" + folder.string() + "' (" +
                       std::to_string(cells.size()) + " cells looked for, such as " + cells.front().folder(folder).string() +
                       "/summary.json); check the folder and --seeds, or run that study first");
  }
  return other;
}

// What differs between the compared cells here and there: one line when every cell differs the
// same way (the usual case, "precision bf16 here, fp32 there"), else one line per difference with
// its experiments.
inline std::string difference_text(const OtherStudy& other, const std::set<std::string>& compared_cells,
                                   const std::vector<Experiment>& experiments) {
  std::map<std::string, std::vector<std::string>> ids_by_difference;
  for (const auto& x : experiments) {
    const auto by_seed = other.differences.find(x.id);
    if (by_seed == other.differences.end()) continue;
    std::set<std::string> seen;
    for (const auto& [seed, difference] : by_seed->second) {
      if (compared_cells.count(cell_name(x.id, seed)) == 0) continue;
      if (seen.insert(difference).second) ids_by_difference[difference].push_back(x.id);
    }
  }
  auto words = [](const std::string& difference) {
    return difference.empty() ? std::string("the same configuration (a rerun)") : difference;
  };
  if (ids_by_difference.size() == 1) {
    return "What differs, in every compared cell: **" + words(ids_by_difference.begin()->first) + "**.\n";
  }
  std::string text = "What differs is not the same in every compared cell:\n\n";
  for (const auto& [difference, ids] : ids_by_difference) {
    text += "- " + words(difference) + ":";
    for (const auto& id : ids) text += " `" + id + "`";
    text += "\n";
  }
  return text;
}

struct ComparedExperiment {
  std::string id;
  mlp::app::MeanInterval difference;  // test accuracy here - there, paired by seed
  double here = kNaN, there = kNaN;   // mean test accuracy over the paired seeds
  double epoch_here = kNaN, epoch_there = kNaN;  // mean seconds per epoch over the paired seeds
};

inline std::vector<ComparedExperiment> compare_experiments(const std::vector<Experiment>& experiments, const StudyResults& here,
                                                           const OtherStudy& other) {
  std::vector<ComparedExperiment> rows;
  for (const auto& x : experiments) {
    const SeedRuns* a = runs_of(here, x.id);
    const SeedRuns* b = runs_of(other.results, x.id);
    if (a == nullptr || b == nullptr) continue;
    SeedRuns pa, pb;  // the seeds both have
    for (const auto& [seed, run] : *a) {
      if (b->count(seed) > 0) pa[seed] = run, pb[seed] = b->at(seed);
    }
    if (pa.empty()) continue;
    rows.push_back({x.id, paired(pa, pb, metric::test_acc), over_seeds(pa, metric::test_acc).mean,
                    over_seeds(pb, metric::test_acc).mean, over_seeds(pa, metric::seconds_per_epoch).mean,
                    over_seeds(pb, metric::seconds_per_epoch).mean});
  }
  return rows;
}

// One line over all experiments: which differences the intervals show, and that the others show none;
// then the experiments whose every paired seed gave the same difference (no interval, no verdict).
inline std::string comparison_summary(const std::vector<ComparedExperiment>& rows) {
  std::vector<std::string> up, down, same;
  std::size_t with_interval = 0;
  for (const auto& r : rows) {
    if (no_spread(r.difference)) {
      same.push_back("`" + r.id + "`");
      continue;
    }
    with_interval += r.difference.has_interval() ? 1 : 0;
    const std::string item = "`" + r.id + "` (" + signed_text(r.difference.mean, kAccuracy) + ")";
    if (effect_sign(r.difference) > 0) up.push_back(item);
    if (effect_sign(r.difference) < 0) down.push_back(item);
  }
  auto list = [](const std::vector<std::string>& items) {
    std::string text;
    for (std::size_t i = 0; i < items.size(); ++i) text += (i == 0 ? "" : ", ") + items[i];
    return text;
  };
  const std::string same_text = same.empty() ? "" : "The same difference in every paired seed (no spread, so no "
                                                    "interval and no verdict): " + list(same) + ".\n";
  if (with_interval == 0) {
    return (rows.size() > same.size() ? "With one paired seed per experiment there is no interval: the differences are "
                                        "listed, none is claimed.\n" : "") + same_text;
  }
  const std::size_t none = with_interval - up.size() - down.size();
  std::string text;
  if (up.empty() && down.empty()) {
    return "The test accuracy here is not detectably different from there in " +
           (with_interval == 1 ? std::string("the one experiment") : "any of the " + std::to_string(with_interval) + " experiments") +
           " with an interval.\n" + same_text;
  }
  if (!up.empty()) text += "Test accuracy detectably higher here than there: " + list(up) + ". ";
  if (!down.empty()) text += "Test accuracy detectably lower here than there: " + list(down) + ". ";
  if (none > 0) {  // (not "in the other 0 experiments")
    text += "No difference detectable in the other " + std::to_string(none) + (none == 1 ? " experiment" : " experiments") +
            " with an interval.";
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text + "\n" + same_text;
}

// The report's section: what differs, the table, the summary line, and the cells not compared.
inline std::string comparison_section(const std::vector<Experiment>& experiments, const StudyResults& here,
                                      const OtherStudy& other) {
  std::ostringstream s;
  const auto rows = compare_experiments(experiments, here, other);
  std::set<std::string> compared;
  std::vector<std::string> missing;  // finished here, not there
  for (const auto& x : experiments) {
    const SeedRuns* a = runs_of(here, x.id);
    if (a == nullptr) continue;
    for (const auto& [seed, run] : *a) {
      const SeedRuns* b = runs_of(other.results, x.id);
      if (b != nullptr && b->count(seed) > 0) compared.insert(cell_name(x.id, seed));
      else missing.push_back(cell_name(x.id, seed));
    }
  }
  s << "This study's cells against those of the same experiment and seed in `" << other.folder.string()
    << "`, seed s here paired with seed s there. ";
  if (rows.empty()) {
    s << "No cell is finished in both, so nothing is compared.\n";
  } else {
    s << difference_text(other, compared, experiments) << "\n"
      << "The difference is here minus there, in test accuracy (best ckpt), with the 95% interval of its mean over "
         "the paired seeds (Student's t); as everywhere in this report, the verdict names a direction (of this "
         "study against the other) only when the interval excludes 0. The means are over the paired seeds. Times "
         "per epoch depend on the machine and its load when each cell ran.\n\n"
      << "| run | paired seeds | test acc here | test acc there | difference, mean [95% CI] | verdict | time per "
         "epoch here / there |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto& r : rows) {
      s << "| `" << r.id << "` | " << r.difference.n << " | " << pct(r.here) << " | " << pct(r.there) << " | "
        << interval_cell(r.difference, kAccuracy) << " | " << verdict(r.difference, true) << " | " << secs(r.epoch_here)
        << " / " << secs(r.epoch_there) << " |\n";
    }
    s << "\n" << comparison_summary(rows);
  }
  if (!missing.empty()) {
    s << "\nNot compared: " << missing.size() << (missing.size() == 1 ? " cell" : " cells") << " finished here with no "
      << "finished run in `" << other.folder.string() << "`:";
    for (const auto& name : missing) s << " `" << name << "`";
    s << "\n";
  }
  return s.str();
}

// "compared with 'runs' (precision bf16 here, fp32 there): 10 cells of 5 experiments paired", for the console.
inline std::string comparison_line(const std::vector<Experiment>& experiments, const StudyResults& here, const OtherStudy& other) {
  const auto rows = compare_experiments(experiments, here, other);
  std::size_t cells = 0;
  std::set<std::string> differences;
  for (const auto& r : rows) {
    cells += r.difference.n;
    for (const auto& [seed, difference] : other.differences.at(r.id)) {
      if (here.at(r.id).count(seed) > 0) differences.insert(difference.empty() ? "the same configuration" : difference);
    }
  }
  std::string what;
  for (const auto& d : differences) what += (what.empty() ? "" : " | ") + d;
  return "compared with '" + other.folder.string() + "'" + (what.empty() ? "" : " (" + what + ")") + ": " +
         std::to_string(cells) + (cells == 1 ? " cell" : " cells") + " of " + std::to_string(rows.size()) +
         (rows.size() == 1 ? " experiment" : " experiments") + " paired";
}

}  // namespace study
