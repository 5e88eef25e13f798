// What a run's model file carries to be used without the run: the data set, its image shape and
// preprocessing, the class names, the validation split and the configuration. train writes it into
// best.mlp; evaluate reads it back, and each field it uses is checked against the model before use (a
// file edited by hand once said 3 channels, 3 classes or epoch -5 and was evaluated as if it were right).
#pragma once

#include "mlp/core/precision.hpp"
#include "mlp/core/shape.hpp"
#include "mlp/core/text_format.hpp"
#include "mlp/data/datasets.hpp"
#include "mlp/data/prepared.hpp"
#include "mlp/data/transforms.hpp"
#include "mlp/io/container.hpp"
#include "mlp_app/json.hpp"
#include "mlp_app/run_config.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace mlp::app {

inline TextSection run_metadata(const RunConfig& config, const PreparedData& data) {
  const Dataset& train = data.data.train;
  return {{"dataset", to_string(data.kind)},
          {"channels", std::to_string(train.shape.channels)},
          {"height", std::to_string(train.shape.height)},
          {"width", std::to_string(train.shape.width)},
          {"mean", detail::join(data.standardizer.mean)},
          {"stddev", detail::join(data.standardizer.stddev)},
          {"class_names", [&] {
             std::string names;
             for (const auto& n : train.class_names) names += (names.empty() ? "" : "\n") + n;
             return names;
           }()},
          {"split_seed", std::to_string(config.split_seed)},
          {"validation", std::to_string(config.validation)},
          {"split_fingerprint", data.split.fingerprint_hex()},
          {"config", config.identity().dump(0)}};  // no thread count: the same model bytes at any count
}

// A model file's run metadata, read and checked.
struct RunMetadata {
  DatasetKind dataset = DatasetKind::FashionMnist;
  Shape image;  // channels x height x width of the training images
  Standardizer standardizer;
  std::vector<std::string> class_names;
  std::uint64_t split_seed = 0;
  Index validation = 0;
  std::string split_fingerprint;  // 8 lowercase hex digits (Split::fingerprint_hex)
  Index train_limit = 0;          // the run's --train-limit (0: all images), from its configuration
  MatmulPrecision precision = MatmulPrecision::Float32;  // the run's --precision, from its configuration
  std::string epoch;              // the best epoch, a whole number >= 1; empty when the file does not say
  std::string monitor;            // the metric BestCheckpoint chose the epoch by; empty when the file does not say
  double monitored = 0.0;         // its value at that epoch
};

// Reads the metadata of `path`, whose model takes `model_input` and predicts `model_classes`
// classes. IoError naming the file and the field for anything missing, malformed or inconsistent.
inline RunMetadata read_run_metadata(const TextSection& meta, const std::string& path, const Shape& model_input,
                                     Index model_classes) {
  auto fail = [&](auto&&... parts) { detail::fail<IoError>("'", path, "' ", parts...); };
  auto get = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) fail("has no '", key, "' in its metadata (was it written by the train program?)");
    return it->second;
  };
  auto integer = [&](const char* key, std::int64_t lo, std::int64_t hi) {
    std::int64_t v = 0;
    if (!detail::parse_int64(get(key), v) || v < lo || v > hi) {
      fail("has a bad ", key, " '", get(key), "' in its metadata (expected a whole number from ", lo, " to ", hi, ")");
    }
    return v;
  };

  RunMetadata m;
  try {
    m.dataset = parse_dataset_kind(get("dataset"));
  } catch (const InvalidArgument& e) {
    fail("names an unknown data set in its metadata: ", e.what());
  }
  m.image = Shape(integer("channels", 1, 65535), integer("height", 1, 65535), integer("width", 1, 65535));
  // (an MLP takes the image's values as a vector; any other model takes the image itself)
  if (model_input.is_flat() ? m.image.size() != model_input.size() : m.image != model_input) {
    fail("says its images are ", m.image.str(), " (", m.image.size(), " values), but its model takes ",
         model_input.described());
  }

  m.standardizer.pixels_per_channel = m.image.pixels();
  for (const char* key : {"mean", "stddev"}) {
    for (const auto& v : detail::split(get(key), ',')) {
      double x = 0.0;
      if (!detail::parse_double(v, x) || !std::isfinite(x)) fail("has a bad ", key, " '", v, "' in its metadata");
      (std::string(key) == "mean" ? m.standardizer.mean : m.standardizer.stddev).push_back(x);
    }
  }
  if (m.standardizer.channels() != m.image.channels) {
    fail("has ", m.standardizer.channels(), m.standardizer.channels() == 1 ? " mean" : " means",
         " in its metadata for images of ", m.image.channels, m.image.channels == 1 ? " channel" : " channels");
  }
  try {
    m.standardizer.validate();
  } catch (const InvalidArgument& e) {
    fail("has unusable preprocessing statistics: ", e.what());
  }

  m.class_names = detail::split(get("class_names"), '\n');
  if (static_cast<Index>(m.class_names.size()) != model_classes) {
    fail("names ", m.class_names.size(), " classes in its metadata, but its model predicts ", model_classes);
  }
  for (std::size_t k = 0; k < m.class_names.size(); ++k) {
    if (m.class_names[k].empty()) fail("has an empty name for class ", k, " in its metadata");
  }

  // (versions before 2026-12-01 took split seeds up to 2^63 - 1)
  m.split_seed = static_cast<std::uint64_t>(integer("split_seed", 0, std::numeric_limits<std::int64_t>::max()));
  m.validation = static_cast<Index>(integer("validation", 1, RunConfig::kMaxCount));
  m.split_fingerprint = get("split_fingerprint");
  if (m.split_fingerprint.size() != 8 ||
      m.split_fingerprint.find_first_not_of("0123456789abcdef") != std::string::npos) {
    fail("has a bad split_fingerprint '", m.split_fingerprint, "' in its metadata (expected 8 hex digits)");
  }
  try {
    const Json config = Json::parse(get("config"));
    if (!config.is_object()) detail::fail("it is not a JSON object");
    if (config.contains("train_limit")) {  // (absent in files of versions before 2026-12-01: no limit)
      m.train_limit = static_cast<Index>(config.at("train_limit").integer(0, RunConfig::kMaxCount));
    }
    if (config.contains("precision")) {  // (absent in files of versions before bf16: fp32)
      m.precision = parse_matmul_precision(config.at("precision").string());
    }
  } catch (const IoError&) {
    throw;
  } catch (const Error& e) {
    fail("has an unusable config in its metadata (the run's configuration, whose train_limit --split val "
         "and whose precision evaluate use): ", e.what());
  }
  if (meta.count("epoch")) m.epoch = std::to_string(integer("epoch", 1, kMaxEpochs));
  if (meta.count("monitor")) {  // (BestCheckpoint's: the metric's name, and its value under that name)
    m.monitor = get("monitor");
    const auto value = meta.find(m.monitor);
    if (m.monitor.empty() || value == meta.end() || !detail::parse_double(value->second, m.monitored) ||
        !std::isfinite(m.monitored)) {
      fail("has a bad monitor '", m.monitor, "' in its metadata (expected the name of a metric whose finite value ",
           "the metadata gives under that name)");
    }
  }
  return m;
}

// The validation images the run used, of the split's `available`: with a --train-limit, the first
// of them only (as run_training takes them).
inline Index validation_images_used(const RunMetadata& m, Index available) {
  RunConfig c;
  c.train_limit = m.train_limit;
  return c.validation_images(available);
}

// Refuses data that is not what the model was trained on: other image shapes or other classes.
inline void check_same_data(const RunMetadata& m, const std::string& path, const Dataset& data,
                            const std::string& where) {
  const Shape image(data.shape.channels, data.shape.height, data.shape.width);
  detail::require<IoError>(image == m.image, "'", path, "' was trained on images of ", m.image.str(),
                           ", but the images in ", where, " are ", image.str());
  detail::require<IoError>(data.class_names == m.class_names, "'", path, "' was trained on the classes ",
                           detail::join(m.class_names, ", "), ", but ", where, " has ",
                           detail::join(data.class_names, ", "));
}

}  // namespace mlp::app
