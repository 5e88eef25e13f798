// The study as a Slurm job array (--slurm): one array task per unfinished cell, each running this
// same program on that one cell (--only <id>/seed-<s> --no-report), and a report job that waits for
// the whole array (--dependency=afterok, --kill-on-invalid-dep=yes so that it is cancelled rather
// than left pending forever when a task fails) and gathers the cells (--report-only). Cells are
// idempotent: a finished cell is skipped, so resubmitting the array runs only what is missing.
#pragma once

#include "seeds.hpp"

#include <mlp/io/atomic_file.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace study {

struct SlurmOptions {
  std::string partition;  // empty: the cluster's default
  std::string time;       // HH:MM:SS per task; empty: the partition's default
  int cpus_per_task = 1;  // also the matrix-product threads of each cell
  bool submit = false;
};

// 'text' for a POSIX shell, whatever it contains.
inline std::string shell_quote(const std::string& text) {
  std::string q = "'";
  for (const char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string command_line(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + shell_quote(w);
  return line;
}

// A path as the value of an #SBATCH directive: in double quotes (sbatch splits the line at spaces
// otherwise), '%' doubled (sbatch expands %u, %j, ... in file names). sbatch has no escape for a
// double quote or a backslash, so a path with either is refused (check_sbatch_path) before any file
// is written.
inline void check_sbatch_path(const std::filesystem::path& path) {
  const std::string text = path.string();
  if (text.find_first_of("\"\\\n") != std::string::npos) {
    throw cli::UsageError("--slurm: the path '" + text +
                          "' holds a double quote, a backslash or a line break, which a #SBATCH line cannot hold; "
                          "use another --out");
  }
}
inline std::string sbatch_path(const std::filesystem::path& path) {
  check_sbatch_path(path);
  std::string quoted = "\"";
  for (const char c : path.string()) quoted += c == '%' ? std::string("%%") : std::string(1, c);
  return quoted + "\"";
}

// The directives every job of the study shares. `log` is the log file's name pattern (its own %A,
// %a, %j are Slurm's; the folder's are doubled).
inline std::string sbatch_header(const std::string& name, const std::filesystem::path& logs, const std::string& log,
                                 const SlurmOptions& o) {
  std::ostringstream s;
  const std::string folder = sbatch_path(logs);
  s << "#!/bin/bash\n#SBATCH --job-name=" << name << "\n#SBATCH --output=" << folder.substr(0, folder.size() - 1) << "/"
    << log << "\"\n#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=" << o.cpus_per_task << "\n";
  if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << "\n";
  if (!o.time.empty()) s << "#SBATCH --time=" << o.time << "\n";
  return s.str();
}

// `study` is the program with the flags every invocation of this study shares (--out, --data,
// --seeds, --epochs, --quick, ...), absolute paths only: tasks run on other machines.
inline std::string array_script(const std::vector<std::string>& cells, const std::vector<std::string>& study,
                                const std::filesystem::path& logs, const SlurmOptions& o) {
  std::ostringstream s;
  s << sbatch_header("study-cells", logs, "cell-%A_%a.out", o) << "#SBATCH --array=0-" << cells.size() - 1 << "\n"
    << "# Written by fashion_mnist_experiments --slurm: task i trains cell i of the list below. A finished cell\n"
    << "# is skipped and an interrupted one continues from its checkpoint, so `sbatch` on this file again runs\n"
    << "# only what is missing.\nset -euo pipefail\ncells=(\n";
  for (const auto& c : cells) s << "  " << c << "\n";
  s << ")\nexec " << command_line(study) << " --only \"${cells[$SLURM_ARRAY_TASK_ID]}\" --no-report\n";
  return s.str();
}

inline std::string report_script(const std::vector<std::string>& study, const std::filesystem::path& logs,
                                 const SlurmOptions& o) {
  SlurmOptions one = o;
  one.cpus_per_task = 1;  // gathering the cells trains nothing
  std::ostringstream s;
  s << sbatch_header("study-report", logs, "report-%j.out", one) << "#SBATCH --kill-on-invalid-dep=yes\n"
    << "# Written by fashion_mnist_experiments --slurm: writes report.md and the figures from the finished cells\n"
    << "# (submitted with --dependency=afterok:<array job>).\nset -euo pipefail\nexec " << command_line(study)
    << " --report-only\n";
  return s.str();
}

// The full path of `program` found in $PATH, or "" when there is none.
inline std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : mlp::detail::split(path ? path : "", ':')) {
    const std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(candidate)) return candidate.string();
  }
  return "";
}

// Runs `sbatch --parsable <args>` and returns the job id it prints ("123" of "123;cluster").
inline std::string sbatch(const std::vector<std::string>& args) {
  std::vector<std::string> words = {"sbatch", "--parsable"};
  words.insert(words.end(), args.begin(), args.end());
  const std::string line = command_line(words);
  FILE* pipe = ::popen((line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw mlp::RuntimeError("cannot run " + line);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  const std::string id = output.substr(output.find_last_of('\n') == std::string::npos ? 0 : output.find_last_of('\n') + 1);
  const std::string number = id.substr(0, id.find(';'));
  if (status != 0 || number.empty() || number.find_first_not_of("0123456789") != std::string::npos) {
    throw mlp::RuntimeError(line + " failed (exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                            "): " + cli::one_line(output));
  }
  return number;
}

}  // namespace study
