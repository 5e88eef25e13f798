// What the output folder holds for each cell of the study, and what a run of the study may do with
// it: a finished cell is kept (never recomputed without --force); a cell that holds a finished run
// of another configuration or data split is never replaced without --force; a cell that failed
// has its error next to its folder (<out>/<id>/seed-<s>.error), so that a later --report-only (on
// Slurm: the job after the array) can name it; a cell whose summary.json or best model cannot be
// used (cut short, hand-edited out of range) is named with what is wrong, and trained again.
#pragma once

#include "seeds.hpp"

#include <mlp/io/atomic_file.hpp>
#include <mlp_app/run_folder.hpp>
#include <mlp_app/run_summary.hpp>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace study {

struct CellStatus {
  enum class State { Missing, Finished, OtherRun, Failed, Interrupted, Unusable };
  Cell cell;
  State state = State::Missing;
  std::optional<mlp::app::RunResult> result;  // Finished
  std::string detail;                         // OtherRun: what differs; Failed: the error; Unusable: what is wrong
};

inline std::filesystem::path error_file(const std::filesystem::path& out, const Cell& c) {
  return out / c.experiment->id / ("seed-" + std::to_string(c.seed) + ".error");
}

// Records why a cell failed (one line), or clears the record once it has finished.
inline void record_failure(const std::filesystem::path& out, const Cell& c, const std::string& error) {
  mlp::write_file_atomically(error_file(out, c), error + "\n");
}
inline void clear_failure(const std::filesystem::path& out, const Cell& c) {
  std::error_code ec;
  std::filesystem::remove(error_file(out, c), ec);
}

// The cell's experiment folder or its own folder, when it exists but is not a folder; else "".
inline std::filesystem::path non_folder_on_the_way(const std::filesystem::path& folder) {
  for (const auto& path : {folder.parent_path(), folder}) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) return path;
  }
  return {};
}

inline CellStatus inspect_cell(const std::filesystem::path& out, const Cell& c, const mlp::app::DataIdentity& data) {
  CellStatus s{c, CellStatus::State::Missing, std::nullopt, ""};
  const auto folder = mlp::app::inspect_run_folder(c.folder(out), c.config, data);
  std::error_code ec;
  if (folder.kind == mlp::app::FolderRun::Kind::Finished) {
    s.state = CellStatus::State::Finished;
    s.result = folder.result;
  } else if (folder.kind == mlp::app::FolderRun::Kind::OtherRun) {
    s.state = CellStatus::State::OtherRun;
    s.detail = folder.difference;
  } else if (!folder.problem.empty()) {
    s.state = CellStatus::State::Unusable;
    s.detail = cli::one_line(folder.problem);
  } else if (const auto blocked = non_folder_on_the_way(c.folder(out)); !blocked.empty()) {
    s.state = CellStatus::State::Unusable;  // (was "not run yet", though training it would fail)
    s.detail = "'" + blocked.string() + "' is not a folder, where the cell's folder or its experiment's should be";
  } else if (std::filesystem::is_regular_file(error_file(out, c), ec)) {
    s.state = CellStatus::State::Failed;
    try {
      s.detail = cli::one_line(mlp::read_text_file(error_file(out, c)));
      while (!s.detail.empty() && s.detail.back() == ' ') s.detail.pop_back();
    } catch (const mlp::Error&) {
      s.detail = "(its error file cannot be read)";
    }
  } else if (std::filesystem::is_regular_file(c.folder(out) / "checkpoint.mlpckpt", ec)) {
    s.state = CellStatus::State::Interrupted;
  }
  return s;
}

inline std::vector<CellStatus> inspect_cells(const std::filesystem::path& out, const std::vector<Cell>& cells,
                                             const mlp::app::DataIdentity& data) {
  std::vector<CellStatus> statuses;
  for (const Cell& c : cells) statuses.push_back(inspect_cell(out, c, data));
  return statuses;
}

// "missing", "failed: <error>", ...: why a cell has no result, for the report and messages.
inline std::string why_not_finished(const CellStatus& s) {
  switch (s.state) {
    case CellStatus::State::Missing: return "not run yet";
    case CellStatus::State::Interrupted: return "interrupted (the same command continues it from its checkpoint)";
    case CellStatus::State::Failed: return "failed: " + s.detail;
    case CellStatus::State::OtherRun: return "holds a run of another configuration (" + s.detail + ")";
    case CellStatus::State::Unusable: return "its run cannot be used: " + s.detail;
    case CellStatus::State::Finished: break;
  }
  return "finished";
}

// The cells this invocation trains: the selected ones that are not finished (all selected ones with
// --force). Without --force, a selected cell that holds another configuration's run stops
// everything before any training, naming the cell and the difference (exit status 2).
inline std::vector<const CellStatus*> plan_training(const std::vector<CellStatus>& statuses, const Selection& only,
                                                     bool force, const std::filesystem::path& out) {
  std::vector<const CellStatus*> queue, others;
  for (const CellStatus& s : statuses) {
    if (!only.contains(s.cell)) continue;
    if (s.state == CellStatus::State::OtherRun) others.push_back(&s);
    if (force || s.state != CellStatus::State::Finished) queue.push_back(&s);
  }
  if (!others.empty() && !force) {
    const CellStatus& first = *others.front();
    throw mlp::IoError("cell " + first.cell.name() + " in '" + out.string() + "' holds a finished run of another " +
                       "configuration (" + first.detail + ")" +
                       (others.size() > 1 ? " and so do " + std::to_string(others.size() - 1) + " more cells" : "") +
                       "; nothing was changed: use another --out, or --force to replace them");
  }
  return queue;
}

// The lines that say which of the cells to train hold a run that cannot be used, and why
// ("baseline/seed-42 is computed again: its run cannot be used: .../summary.json: ...").
inline std::string unusable_notes(const std::vector<const CellStatus*>& planned) {
  std::string notes;
  for (const CellStatus* s : planned) {
    if (s->state == CellStatus::State::Unusable) {
      notes += s->cell.name() + " is computed again: its run cannot be used: " + s->detail + "\n";
    }
  }
  return notes;
}

// The output folder, checked before anything is trained or written: it is created (unless
// `create` is false and it does not exist yet: then there is nothing to check) and a file is
// written to it and removed. Throws IoError (exit status 2) naming the folder and the reason.
inline void require_writable_folder(const std::filesystem::path& out, bool create) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(out, ec);
  if (!exists && !create) return;
  if (exists && !std::filesystem::is_directory(out, ec)) {
    throw mlp::IoError("--out '" + out.string() + "' is not a folder");
  }
  if (!exists) {
    std::filesystem::create_directories(out, ec);
    if (ec || !std::filesystem::is_directory(out, ec)) {
      throw mlp::IoError("--out '" + out.string() + "': the folder cannot be created (" +
                         (ec ? ec.message() : std::string("it is not a folder")) + ")");
    }
  }
  std::random_device entropy;
  const auto probe = out / (".write-test-" + std::to_string(entropy()) + std::to_string(entropy()));
  std::FILE* f = std::fopen(probe.string().c_str(), "wb");
  int code = f == nullptr ? errno : 0;
  if (f != nullptr && std::fclose(f) != 0) code = errno;
  if (f != nullptr) std::filesystem::remove(probe, ec);
  if (f == nullptr || code != 0) {
    throw mlp::IoError("--out '" + out.string() + "': the folder is not writable (" + mlp::detail::errno_text(code) + ")");
  }
}

// --force: empties a cell's folder (keeping its marker) while holding its lock, so that a folder in
// use by another process (a Slurm task, a second study) is refused rather than emptied under it.
inline void clear_cell_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::exists(folder, ec)) return;
  const mlp::app::RunFolder lock(folder, true);
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().filename() != mlp::app::kRunMarker) std::filesystem::remove_all(entry.path());
  }
}

}  // namespace study
