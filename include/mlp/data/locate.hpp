// Finding a data set on disk. Search order: the --data flag; $MLP_DATA; ./data/<dataset>;
// /usr/share/datasets/<dataset> (where Debian's dataset-fashion-mnist package installs
// FashionMNIST). Each place may hold the files directly or in a <dataset>/ subfolder (CIFAR-10
// also in cifar-10-batches-bin/). A --data flag that does not hold the files is an error, not a
// reason to look elsewhere: the user asked for that folder.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/data/datasets.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace mlp {

namespace detail {

inline std::vector<std::filesystem::path> dataset_dir_variants(const std::filesystem::path& root,
                                                               DatasetKind kind) {
  std::vector<std::filesystem::path> dirs = {root, root / to_string(kind)};
  if (kind == DatasetKind::Cifar10) {
    dirs.push_back(root / "cifar-10-batches-bin");
    dirs.push_back(root / "cifar10" / "cifar-10-batches-bin");
  }
  return dirs;
}

inline std::string how_to_get(DatasetKind kind) {
  std::string text = detail::concat("run `data/download.sh ", to_string(kind),
                                    "` (needs internet access)");
  if (kind == DatasetKind::FashionMnist) {
    text = "install it with `sudo apt-get install dataset-fashion-mnist`, or " + text;
  }
  return text;
}

}  // namespace detail

// Returns the folder holding the data set's files, or throws an IoError (one line) that lists every
// place it looked, why each failed, and how to get the files.
inline std::filesystem::path locate_dataset(DatasetKind kind, const std::string& data_flag = "") {
  const std::string name = to_string(kind);
  std::vector<std::pair<std::string, std::filesystem::path>> places;  // (label, root)
  if (!data_flag.empty()) {
    places.push_back({"--data", data_flag});
  } else {
    if (const char* env = std::getenv("MLP_DATA"); env != nullptr && *env != '\0') {
      places.push_back({"$MLP_DATA", env});
    }
    places.push_back({"", std::filesystem::path("data") / name});
    places.push_back({"", std::filesystem::path("/usr/share/datasets") / name});
  }
  std::string looked;
  for (const auto& [label, root] : places) {
    std::string reason;
    for (const auto& dir : detail::dataset_dir_variants(root, kind)) {
      const std::string why = missing_dataset_files(kind, dir);
      if (why.empty()) return dir;
      if (reason.empty() || why != "no such folder") reason = why;  // keep the most telling
    }
    looked += detail::concat(looked.empty() ? "" : "; ", label.empty() ? "" : label + " ",
                             root.string(), " (", reason, ")");
  }
  detail::fail<IoError>("no ", name, " data found: looked in ", looked, "; ",
                        detail::how_to_get(kind));
}

}  // namespace mlp
