// The data sets the study knows by name: where their files are and how to load them.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/data/cifar10.hpp"
#include "mlp/data/dataset.hpp"
#include "mlp/data/idx.hpp"
#include "mlp/io/file_kind.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mlp {

enum class DatasetKind { FashionMnist, Mnist, Cifar10 };

inline const char* to_string(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::FashionMnist: return "fashion-mnist";
    case DatasetKind::Mnist: return "mnist";
    case DatasetKind::Cifar10: return "cifar10";
  }
  return "?";
}

inline DatasetKind parse_dataset_kind(std::string_view name) {
  for (DatasetKind k : {DatasetKind::FashionMnist, DatasetKind::Mnist, DatasetKind::Cifar10}) {
    if (name == to_string(k)) return k;
  }
  detail::fail("unknown dataset '", name, "' (expected fashion-mnist, mnist or cifar10)");
}

inline std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

namespace detail {

// `dir/name.gz` if it is a regular file, else `dir/name` if it is; else the first of them that
// exists as something else (a folder, a FIFO, a link loop: the reader then says what), else empty.
inline std::filesystem::path find_idx_file(const std::filesystem::path& dir, const std::string& name) {
  const std::filesystem::path candidates[] = {dir / (name + ".gz"), dir / name};
  for (const auto& candidate : candidates) {
    if (file_kind_problem(candidate).empty()) return candidate;
  }
  for (const auto& candidate : candidates) {
    if (file_kind_problem(candidate).rfind("no such file", 0) != 0) return candidate;
  }
  return {};
}

inline const std::vector<std::string>& idx_file_stems() {
  static const std::vector<std::string> stems = {
      "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
      "t10k-labels-idx1-ubyte"};
  return stems;
}

inline std::vector<std::string> cifar10_file_names() {
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
          "data_batch_5.bin", "test_batch.bin",   "batches.meta.txt"};
}

inline Dataset load_idx_split(const std::filesystem::path& dir, const std::string& prefix,
                              const std::string& name, std::vector<std::string> classes) {
  Dataset d;
  d.name = name;
  d.class_names = std::move(classes);
  Index rows = 0, cols = 0;
  const auto images = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  require<IoError>(!images.empty() && !labels.empty(), "missing ", prefix,
                   "-images-idx3-ubyte[.gz] or ", prefix, "-labels-idx1-ubyte[.gz] in '",
                   dir.string(), "'");
  d.pixels = read_idx_images(images, rows, cols);
  d.labels = read_idx_labels(labels, static_cast<int>(d.class_names.size()));
  d.shape = {1, rows, cols};
  require<IoError>(d.labels.size() == d.pixels.cols(), "'", images.string(), "' holds ",
                   d.pixels.cols(), " images but '", labels.string(), "' holds ", d.labels.size(),
                   " labels");
  // (a split of no images would pass every later check and fail, or divide by zero, at its first use)
  require<IoError>(d.pixels.cols() > 0, "'", images.string(), "' holds no images");
  return d;
}

}  // namespace detail

// A short reason why `dir` does not hold the data set's files, or "" when it does: the files that
// are missing, then those that are something else ("data_batch_2.bin is a directory").
inline std::string missing_dataset_files(DatasetKind kind, const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return std::filesystem::exists(dir, ec) ? "not a folder" : "no such folder";
  }
  std::vector<std::string> missing, not_files;
  auto check = [&](const std::filesystem::path& file, const std::string& name_if_missing) {
    const std::string problem = file.empty() ? "no such file" : detail::file_kind_problem(file);
    if (problem.rfind("no such file", 0) == 0) missing.push_back(name_if_missing);
    else if (!problem.empty()) not_files.push_back(file.filename().string() + " " + problem);
  };
  if (kind == DatasetKind::Cifar10) {
    for (const auto& f : detail::cifar10_file_names()) check(dir / f, f);
  } else {
    for (const auto& stem : detail::idx_file_stems()) check(detail::find_idx_file(dir, stem), stem + ".gz");
  }
  std::string text;
  for (const auto& m : missing) text += (text.empty() ? "missing " : " ") + m;
  for (const auto& n : not_files) text += (text.empty() ? "" : ", ") + n;
  return text;
}

// Throws unless both parts are valid data sets of one kind: images of one shape, the same classes.
// `where` names them in the message ("fashion-mnist in '/data'").
inline void check_train_test(const TrainTestData& data, const std::string& where) {
  data.train.validate();
  data.test.validate();
  detail::require<IoError>(data.train.shape == data.test.shape, where, ": train and test images differ in size (",
                           data.train.shape.channels, " x ", data.train.shape.height, " x ", data.train.shape.width, " and ",
                           data.test.shape.channels, " x ", data.test.shape.height, " x ", data.test.shape.width, ")");
  const auto& a = data.train.class_names;
  const auto& b = data.test.class_names;
  if (a.size() != b.size()) {
    detail::fail<IoError>(where, ": train and test parts have different classes (", a.size(), " and ", b.size(), ")");
  }
  for (std::size_t k = 0; k < a.size(); ++k) {
    detail::require<IoError>(a[k] == b[k], where, ": train and test parts name class ", k, " differently ('", a[k],
                             "' and '", b[k], "')");
  }
}

// Loads the train and test parts. Shapes and class counts are checked to agree.
inline TrainTestData load_dataset(DatasetKind kind, const std::filesystem::path& dir) {
  TrainTestData data;
  const std::string name = to_string(kind);
  if (kind == DatasetKind::Cifar10) {
    const auto classes = read_cifar10_class_names(dir / "batches.meta.txt");
    std::vector<Pixels> parts(5);
    std::vector<Labels> part_labels(5);
    Index total = 0;
    for (std::size_t k = 0; k < 5; ++k) {
      read_cifar10_batch(dir / ("data_batch_" + std::to_string(k + 1) + ".bin"), parts[k],
                         part_labels[k]);
      total += parts[k].cols();
    }
    data.train.pixels.resize(kCifarFeatures, total);
    data.train.labels.resize(total);
    Index at = 0;
    for (std::size_t k = 0; k < 5; ++k) {
      data.train.pixels.middleCols(at, parts[k].cols()) = parts[k];
      data.train.labels.segment(at, parts[k].cols()) = part_labels[k];
      at += parts[k].cols();
      parts[k].resize(0, 0);
    }
    read_cifar10_batch(dir / "test_batch.bin", data.test.pixels, data.test.labels);
    for (Dataset* d : {&data.train, &data.test}) {
      d->shape = {3, kCifarSide, kCifarSide};
      d->class_names = classes;
    }
    data.train.name = name + "/train";
    data.test.name = name + "/test";
  } else {
    std::vector<std::string> classes = fashion_mnist_class_names();
    if (kind == DatasetKind::Mnist) {
      classes.clear();
      for (int digit = 0; digit < 10; ++digit) classes.push_back(std::to_string(digit));
    }
    data.train = detail::load_idx_split(dir, "train", name + "/train", classes);
    data.test = detail::load_idx_split(dir, "t10k", name + "/test", classes);
  }
  check_train_test(data, detail::concat(name, " in '", dir.string(), "'"));
  return data;
}

}  // namespace mlp
