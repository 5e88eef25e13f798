// Saved models: a versioned container (see container.hpp) holding the architecture spec, free-form
// metadata (data set, preprocessing, epoch...) and every named parameter and buffer. Loading
// rebuilds the model from the spec, so a file is usable without knowing its architecture.
// The format is described in docs/file-format.md.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/io/container.hpp"
#include "mlp/model/parameterized_mlp.hpp"

#include <algorithm>
#include <filesystem>
#include <string>

namespace mlp {

inline constexpr char kModelMagic[9] = "MLPMODEL";
inline constexpr char kCheckpointMagic[9] = "MLPCKPT1";
inline constexpr std::uint32_t kModelFormatVersion = 1;

inline std::map<std::string, std::string> mlp_file_kinds() {
  return {{std::string(kModelMagic, 8), "an mlp model file"},
          {std::string(kCheckpointMagic, 8), "an mlp training checkpoint"}};
}

inline TextSection spec_to_text(const MlpSpec& spec) {
  return {{"inputs", std::to_string(spec.inputs)},
          {"hidden", detail::join(spec.hidden)},
          {"classes", std::to_string(spec.classes)},
          {"activation", to_string(spec.activation)},
          {"batch_norm", spec.batch_norm ? "1" : "0"},
          {"dropout", detail::exact(spec.dropout)},
          {"init", to_string(spec.init)},
          {"leaky_slope", detail::exact(spec.leaky_slope)}};
}

inline MlpSpec spec_from_container(const ContainerReader& in, const std::string& section = "spec") {
  MlpSpec spec;
  auto integer = [&](const std::string& key) {
    std::int64_t v = 0;
    if (!detail::parse_int64(in.value(section, key), v)) in.fail("has a bad spec entry ", key);
    return static_cast<Index>(v);
  };
  auto real = [&](const std::string& key) {
    double v = 0;
    if (!detail::parse_double(in.value(section, key), v)) in.fail("has a bad spec entry ", key);
    return v;
  };
  spec.inputs = integer("inputs");
  spec.classes = integer("classes");
  for (const auto& h : detail::split(in.value(section, "hidden"), ',')) {
    std::int64_t v = 0;
    if (!detail::parse_int64(h, v)) in.fail("has a bad hidden size '", h, "'");
    spec.hidden.push_back(static_cast<Index>(v));
  }
  try {
    spec.activation = parse_activation(in.value(section, "activation"));
    spec.init = parse_init(in.value(section, "init"));
  } catch (const InvalidArgument& e) {
    in.fail("has an unusable spec: ", e.what());
  }
  spec.batch_norm = in.value(section, "batch_norm") == "1";
  spec.dropout = real("dropout");
  spec.leaky_slope = real("leaky_slope");
  try {
    spec.validate();
  } catch (const InvalidArgument& e) {
    in.fail("has an invalid spec: ", e.what());
  }
  return spec;
}

// The names and shapes of the state of a ParameterizedMLP built from `spec`, computed without
// building it (layer order: Linear, [BatchNorm1d], activation, [Dropout] per hidden width).
inline std::vector<ContainerReader::TensorShape> expected_state_shapes(const MlpSpec& spec) {
  std::vector<ContainerReader::TensorShape> shapes;
  Index layer = 0, width = spec.inputs;
  auto linear = [&](Index out) {
    const std::string prefix = std::to_string(layer++) + ".";
    shapes.push_back({prefix + "weight", out, width});
    shapes.push_back({prefix + "bias", out, 1});
    width = out;
  };
  for (const Index h : spec.hidden) {
    linear(h);
    if (spec.batch_norm) {
      const std::string prefix = std::to_string(layer++) + ".";
      for (const char* name : {"weight", "bias", "running_mean", "running_var"}) shapes.push_back({prefix + name, h, 1});
    }
    layer += spec.dropout > 0.0 ? 2 : 1;  // activation and dropout have no state
  }
  linear(spec.classes);
  return shapes;
}

namespace detail {

// Before anything is allocated from a file's spec, its tensors must be exactly the ones that spec
// implies: then the model's size is bounded by the file's, whatever the spec claims.
inline void check_state_matches_spec(const ContainerReader& in, const MlpSpec& spec, const std::string& section) {
  const auto found = in.tensor_shapes(section);
  const auto expected = expected_state_shapes(spec);
  for (const auto& e : expected) {
    const auto it = std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.name == e.name; });
    if (it == found.end()) in.fail("has no tensor '", e.name, "', which its spec (", spec.describe(), ") needs");
    if (it->rows != e.rows || it->cols != e.cols) {
      in.fail("has tensor '", e.name, "' of ", shape_string(it->rows, it->cols), ", but its spec (",
              spec.describe(), ") needs ", shape_string(e.rows, e.cols));
    }
  }
  if (found.size() != expected.size()) {
    in.fail("has ", found.size(), " tensors, but its spec (", spec.describe(), ") needs ", expected.size());
  }
}

}  // namespace detail

// Writes the model atomically (temporary file, flush, rename).
template <class S>
void save_model(const std::filesystem::path& path, ParameterizedMLP<S>& model,
                const TextSection& metadata = {}) {
  ContainerWriter out;
  out.add_text("spec", spec_to_text(model.spec()));
  out.add_text("metadata", metadata);
  out.add_tensors("state", model.state_dict());
  out.write(path, kModelMagic, kModelFormatVersion);
}

template <class S>
struct LoadedModel {
  ParameterizedMLP<S> model;
  TextSection metadata;
};

namespace detail {

template <class S>
void load_state_from(const ContainerReader& in, Sequential<S>& model, const std::string& section) {
  try {
    model.load_state_dict(in.tensors<S>(section));
  } catch (const InvalidArgument& e) {
    in.fail("does not fit the model: ", e.what());
  }
}

}  // namespace detail

// Reads a model file and builds the model it describes.
template <class S = float>
LoadedModel<S> load_model(const std::filesystem::path& path) {
  const auto in = ContainerReader::open(path, kModelMagic, kModelFormatVersion, "an mlp model file",
                                        mlp_file_kinds());
  const MlpSpec spec = spec_from_container(in);
  detail::check_state_matches_spec(in, spec, "state");
  LoadedModel<S> loaded{ParameterizedMLP<S>(spec, 0), in.text("metadata")};
  detail::load_state_from(in, loaded.model, "state");
  return loaded;
}

// Loads a model file into an existing model, which must have the same architecture.
template <class S>
TextSection load_model_into(const std::filesystem::path& path, ParameterizedMLP<S>& model) {
  const auto in = ContainerReader::open(path, kModelMagic, kModelFormatVersion, "an mlp model file",
                                        mlp_file_kinds());
  const MlpSpec spec = spec_from_container(in);
  if (!spec.same_architecture(model.spec())) {
    in.fail("holds a different architecture: ", spec.describe(), ", but the model is ",
            model.spec().describe());
  }
  detail::load_state_from(in, model, "state");
  return in.text("metadata");
}

}  // namespace mlp
