// The study's cells: every experiment runs once per seed, and each (experiment, seed) pair is a cell
// with its own run folder <out>/<id>/seed-<s>/. The seed varies initialization, shuffling and
// dropout (RunConfig::seed); the validation split stays the one drawn with seed 42, so that seed s
// of every experiment can be compared with seed s of the baseline (a paired design).
#pragma once

#include "experiments.hpp"

#include "common/cli.hpp"

#include <mlp/core/text_format.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace study {

inline constexpr std::uint64_t kFirstSeed = 42;
inline constexpr long long kMaxSeedCount = 1000;

// --seeds: a count N (the seeds 42, 43, ..., 42 + N - 1; 1 is the assignment's single-seed study)
// or a list "42,7,19"; a list of one seed is written with a trailing comma, "7,", since "7" is a
// count. Throws UsageError naming the bad value.
inline std::vector<std::uint64_t> parse_seeds(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return cli::UsageError("--seeds takes a number of seeds from 1 to " + std::to_string(kMaxSeedCount) +
                           " or a list of seeds such as 42,43,44, but got '" + text + "'" + why);
  };
  const bool is_list = text.find(',') != std::string::npos;
  auto items = mlp::detail::split(text, ',');
  if (is_list && items.back().empty()) items.pop_back();  // "7,": a list of one
  std::vector<std::uint64_t> seeds;
  for (const auto& item : items) {
    std::uint64_t v = 0;
    if (!mlp::detail::parse_uint64(item, v) || item[0] < '0' || item[0] > '9' ||
        v > static_cast<std::uint64_t>(mlp::app::RunConfig::kMaxSeed)) {
      throw bad(is_list ? ": '" + item + "' is not a seed from 0 to 2^53 - 1" : "");
    }
    if (std::find(seeds.begin(), seeds.end(), v) != seeds.end()) {
      throw bad(": seed " + item + " is listed twice (each seed is one run of every experiment)");
    }
    seeds.push_back(v);
  }
  if (is_list) return seeds;
  if (seeds.size() != 1 || seeds[0] < 1 || seeds[0] > static_cast<std::uint64_t>(kMaxSeedCount)) throw bad("");
  std::vector<std::uint64_t> counted;
  for (std::uint64_t k = 0; k < seeds[0]; ++k) counted.push_back(kFirstSeed + k);
  return counted;
}

// The --seeds text that parse_seeds reads back as this same list.
inline std::string seeds_flag(const std::vector<std::uint64_t>& seeds) {
  std::string text;
  for (const auto s : seeds) text += std::to_string(s) + ",";
  if (seeds.size() > 1) text.pop_back();
  return text;
}

inline std::string cell_name(const std::string& id, std::uint64_t seed) { return id + "/seed-" + std::to_string(seed); }

struct Cell {
  const Experiment* experiment = nullptr;
  std::uint64_t seed = kFirstSeed;
  mlp::app::RunConfig config;  // the experiment's configuration with this seed
  std::string name() const { return cell_name(experiment->id, seed); }
  std::filesystem::path folder(const std::filesystem::path& out) const { return out / experiment->id / ("seed-" + std::to_string(seed)); }
};

// Experiment by experiment, seeds in the order given.
inline std::vector<Cell> make_cells(const std::vector<Experiment>& experiments, const std::vector<std::uint64_t>& seeds) {
  std::vector<Cell> cells;
  for (const Experiment& x : experiments) {
    for (const std::uint64_t s : seeds) {
      Cell c{&x, s, x.config};
      c.config.seed = s;
      cells.push_back(c);
    }
  }
  return cells;
}
// Cells point at their experiments: a temporary list would leave them dangling.
std::vector<Cell> make_cells(std::vector<Experiment>&& experiments, const std::vector<std::uint64_t>& seeds) = delete;

// --only: experiment ids ("l2": all its seeds) or single cells ("l2/seed-43"), comma-separated.
class Selection {
 public:
  Selection() = default;
  Selection(const std::string& text, const std::vector<Experiment>& experiments, const std::vector<std::uint64_t>& seeds) {
    for (const auto& item : mlp::detail::split(text, ',')) {
      const std::size_t slash = item.find("/seed-");
      const std::string id = item.substr(0, slash);
      const bool known = std::any_of(experiments.begin(), experiments.end(), [&](const auto& x) { return x.id == id; });
      if (!known) throw cli::UsageError("--only: unknown experiment '" + id + "' (see --list)");
      if (slash == std::string::npos) {
        ids_.insert(id);
        continue;
      }
      std::int64_t seed = -1;
      const std::string seed_text = item.substr(slash + 6);
      if (!mlp::detail::parse_int64(seed_text, seed) || seed < 0 ||
          std::find(seeds.begin(), seeds.end(), static_cast<std::uint64_t>(seed)) == seeds.end()) {
        throw cli::UsageError("--only: '" + item + "' names seed '" + seed_text + "', which is not one of the study's seeds (--seeds)");
      }
      cells_.insert(id + "/seed-" + std::to_string(seed));  // as the cell is named: seed-042 is seed-42
    }
  }
  bool all() const { return ids_.empty() && cells_.empty(); }
  bool contains(const Cell& c) const { return all() || ids_.count(c.experiment->id) > 0 || cells_.count(c.name()) > 0; }

 private:
  std::set<std::string> ids_, cells_;
};

}  // namespace study
