// What stands at a path where a regular file is expected, in words for error messages.
//
// Readers check this before opening: opening a FIFO blocks until someone writes to it, reading
// /dev/zero never ends, and a folder or a symbolic link loop would otherwise surface as a vague
// "cannot read" or, in a data folder, as "missing".
#pragma once

#include "mlp/core/errors.hpp"

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace mlp {

namespace detail {

// "" when `path` is a regular file (after following symbolic links); otherwise what it is instead:
// "no such file", "is a directory", "is a FIFO (named pipe)", "is a character device", "is a
// block device", "is a socket", "is a symbolic link loop", or the system's reason.
inline std::string file_kind_problem(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  switch (status.type()) {
    case fs::file_type::regular: return "";
    case fs::file_type::directory: return "is a directory";
    case fs::file_type::fifo: return "is a FIFO (named pipe)";
    case fs::file_type::character: return "is a character device";
    case fs::file_type::block: return "is a block device";
    case fs::file_type::socket: return "is a socket";
    case fs::file_type::not_found: {
      std::error_code link_ec;
      if (!fs::is_symlink(fs::symlink_status(path, link_ec))) return "no such file";
      return concat("no such file (a symbolic link to '", fs::read_symlink(path, link_ec).string(), "')");
    }
    default: break;
  }
  if (ec.value() == ELOOP) return "is a symbolic link loop";
  return ec ? ec.message() : "is not a regular file";
}

// "" when nothing stands at `path` or a regular file does; otherwise what stands there instead (as
// file_kind_problem): what a writer that replaces or removes the file must not touch.
inline std::string non_file_problem(const std::filesystem::path& path) {
  std::string problem = file_kind_problem(path);
  return problem.rfind("no such file", 0) == 0 ? std::string() : problem;
}

// The reason in a "cannot open" message: "no such file", "it is a directory", ...
inline std::string cannot_open_reason(const std::string& problem) {
  return problem.rfind("is ", 0) == 0 ? "it " + problem : problem;
}

// Throws IoError "cannot open '<path>': <what it is>" unless `path` is a regular file.
inline void require_regular_file(const std::filesystem::path& path) {
  const std::string problem = file_kind_problem(path);
  if (!problem.empty()) {
    fail<IoError>("cannot open '", path.string(), "': ", cannot_open_reason(problem));
  }
}

}  // namespace detail

}  // namespace mlp
