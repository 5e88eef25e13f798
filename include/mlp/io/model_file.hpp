// Saved models: a versioned container (see container.hpp) holding the model's layer list (each
// layer's kind and configuration), free-form metadata (data set, preprocessing, epoch...) and every
// named parameter and buffer. Loading rebuilds any model from the list, so a file is usable without
// knowing its architecture, and a user's own layer kinds load once registered (layer_registry.hpp).
// Format version 2 stores the layer list; version 1 files (an MlpSpec) still load. The format is
// described in docs/file-format.md.
#pragma once

#include "mlp/core/text_format.hpp"
#include "mlp/io/container.hpp"
#include "mlp/model/layer_registry.hpp"
#include "mlp/model/parameterized_mlp.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace mlp {

inline constexpr char kModelMagic[9] = "MLPMODEL";
inline constexpr char kCheckpointMagic[9] = "MLPCKPT1";
// 2: the layer list ("model" and "layer.<i>" sections). 1: an MlpSpec ("spec" section).
inline constexpr std::uint32_t kModelFormatVersion = 2;

inline std::map<std::string, std::string> mlp_file_kinds() {
  return {{std::string(kModelMagic, 8), "an mlp model file"},
          {std::string(kCheckpointMagic, 8), "an mlp training checkpoint"}};
}

// A model as a file describes it: the per-sample input shape and the layers in order.
struct Architecture {
  Shape input;
  std::vector<LayerSpec> layers;
};

namespace detail {

// Version 1's model description (written by mlp 0.1; read for compatibility).
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
  auto integer = [&](const std::string& key, std::int64_t max) {
    std::int64_t v = 0;
    if (!detail::parse_int64(in.value(section, key), v) || v < 0 || v > max) in.fail("has a bad spec entry ", key);
    return static_cast<Index>(v);
  };
  auto real = [&](const std::string& key) {
    double v = 0;
    if (!detail::parse_double(in.value(section, key), v)) in.fail("has a bad spec entry ", key);
    return v;
  };
  spec.inputs = integer("inputs", kMaxLayerSize);
  spec.classes = integer("classes", kMaxLayerSize);
  for (const auto& h : detail::split(in.value(section, "hidden"), ',')) {
    std::int64_t v = 0;
    if (!detail::parse_int64(h, v) || v < 0 || v > kMaxLayerSize) in.fail("has a bad hidden size '", h, "'");
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

// The names and shapes of the state of a version-1 file's ParameterizedMLP, computed without
// building it (per hidden width: Linear, [BatchNorm1d], activation, [Dropout]).
inline std::vector<ContainerReader::TensorShape> v1_state_shapes(const MlpSpec& spec) {
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

inline std::string shape_text(const Shape& s) { return concat(s.channels, ",", s.height, ",", s.width); }

template <class S>
void write_architecture(ContainerWriter& out, const Sequential<S>& model) {
  out.add_text("model", {{"input_shape", shape_text(model.input_shape())},
                         {"layers", std::to_string(model.size())}});
  const auto layers = model.architecture();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    TextSection section = layers[i].config.entries();
    section["kind"] = layers[i].kind;
    out.add_text(concat("layer.", i), section);
  }
}

inline Architecture read_architecture(const ContainerReader& in) {
  Architecture arch;
  const auto dims = split(in.value("model", "input_shape"), ',');
  std::int64_t d[3] = {0, 0, 0};
  const bool shape_ok = dims.size() == 3 && std::all_of(dims.begin(), dims.end(), [&, k = 0](const std::string& t) mutable {
                          return parse_int64(t, d[k]) && d[k] >= 1 && d[k++] <= kMaxLayerSize;
                        });
  if (!shape_ok) in.fail("has a bad input shape '", in.value("model", "input_shape"), "'");
  arch.input = Shape(d[0], d[1], d[2]);
  if (!within_sample_limit(arch.input)) in.fail("has an input shape of ", arch.input.str(), " values, too large");
  std::int64_t count = 0;
  if (!parse_int64(in.value("model", "layers"), count) || count < 0 || count > 100000) {
    in.fail("has a bad layer count '", in.value("model", "layers"), "'");
  }
  for (std::int64_t i = 0; i < count; ++i) {
    TextSection section = in.text(concat("layer.", i));  // a missing section is an error naming it
    LayerSpec spec;
    spec.kind = section["kind"];
    section.erase("kind");
    if (spec.kind.empty()) in.fail("has no kind for layer ", i);
    for (const auto& [key, value] : section) spec.config.set(key, value);
    arch.layers.push_back(std::move(spec));
  }
  return arch;
}

// Before anything is allocated from a file's layer list, the tensors of each layer whose kind
// states its shapes must be exactly those: then the model's size is bounded by the file's.
template <class S>
void check_state_shapes(const ContainerReader& in, const Architecture& arch, const std::string& section) {
  const auto found = in.tensor_shapes(section);
  const auto& registry = LayerRegistry<S>::instance();
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const LayerSpec& layer = arch.layers[i];
    std::optional<std::vector<StateShape>> expected;
    try {
      expected = registry.state_shapes(layer.kind, layer.config);
    } catch (const InvalidArgument& e) {
      in.fail("holds an unusable layer ", i, ": ", e.what());
    }
    if (!expected) continue;  // a kind that does not state its shapes is checked once built
    for (const StateShape& e : *expected) {
      const std::string name = concat(i, ".", e.name);
      const auto it = std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.name == name; });
      if (it == found.end()) in.fail("has no tensor '", name, "', which layer ", i, " (", layer.kind, ") needs");
      if (it->rows != e.rows || it->cols != e.cols) {
        in.fail("has tensor '", name, "' of ", shape_string(it->rows, it->cols), ", but layer ", i, " (",
                layer.kind, ") needs ", shape_string(e.rows, e.cols));
      }
    }
  }
}

// Builds the layers a file lists (after check_state_shapes), with the file named in any error.
template <class S>
Sequential<S> build_model(const ContainerReader& in, const Architecture& arch) {
  Sequential<S> model(arch.input);
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    try {
      model.add(LayerRegistry<S>::instance().make(arch.layers[i].kind, arch.layers[i].config));
    } catch (const InvalidArgument& e) {
      in.fail("holds an unusable layer ", i, ": ", e.what());
    }
  }
  return model;
}

template <class S>
void load_state_checked(const ContainerReader& in, Sequential<S>& model, const StateDict<S>& state) {
  for (const auto& t : state) {
    if (!t.value.allFinite()) in.fail("holds non-finite values (NaN or infinity) in tensor '", t.name, "'");
  }
  try {
    model.load_state_dict(state);
  } catch (const InvalidArgument& e) {
    in.fail("does not fit the model: ", e.what());
  }
}

template <class S>
void load_state_from(const ContainerReader& in, Sequential<S>& model, const std::string& section) {
  load_state_checked(in, model, in.tensors<S>(section));
}

// A version-1 file's model: its tensors are checked against the spec before the model is built.
template <class S>
Sequential<S> load_v1_model(const ContainerReader& in) {
  const MlpSpec spec = spec_from_container(in);
  const auto found = in.tensor_shapes("state");
  const auto expected = v1_state_shapes(spec);
  for (const auto& e : expected) {
    const auto it = std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.name == e.name; });
    if (it == found.end() || it->rows != e.rows || it->cols != e.cols) {
      in.fail("does not hold tensor '", e.name, "' of ", shape_string(e.rows, e.cols), ", which its spec (",
              spec.describe(), ") needs");
    }
  }
  if (found.size() != expected.size()) {
    in.fail("has ", found.size(), " tensors, but its spec (", spec.describe(), ") needs ", expected.size());
  }
  Sequential<S> model = ParameterizedMLP<S>(spec, 0);
  StateDict<S> state = in.tensors<S>("state");
  for (const auto& b : model.buffers()) {  // version 1 did not store BatchNorm's batch count
    if (find_tensor(state, b.name) == nullptr) state.push_back({b.name, Matrix<S>::Zero(b.rows, b.cols)});
  }
  load_state_checked(in, model, state);
  return model;
}

// The model a file holds, either version, with its state loaded.
template <class S>
Sequential<S> read_model(const ContainerReader& in) {
  if (in.version() == 1) return load_v1_model<S>(in);
  const Architecture arch = read_architecture(in);
  check_state_shapes<S>(in, arch, "state");
  Sequential<S> model = build_model<S>(in, arch);
  load_state_from(in, model, "state");
  return model;
}

// "Linear(bias=1, in_features=784, out_features=256)": a layer as a file describes it.
inline std::string spec_text(const LayerSpec& layer) {
  std::string args;
  for (const auto& [key, value] : layer.config.entries()) {
    if (!args.empty()) args += ", ";
    args.append(key).append("=").append(value);
  }
  return layer.kind + "(" + args + ")";
}

inline std::string architecture_difference(const Architecture& file, const Architecture& model) {
  if (file.input != model.input) {
    return concat("the file's input is ", file.input.described(), ", the model's ", model.input.described());
  }
  if (file.layers.size() != model.layers.size()) {
    return concat("the file has ", file.layers.size(), " layers, the model ", model.layers.size());
  }
  for (std::size_t i = 0; i < file.layers.size(); ++i) {
    if (file.layers[i] != model.layers[i]) {
      return concat("layer ", i, " is ", spec_text(file.layers[i]), " there, ", spec_text(model.layers[i]), " here");
    }
  }
  return {};
}

template <class S>
Architecture architecture_of(const Sequential<S>& model) {
  return {model.input_shape(), model.architecture()};
}

// Refuses to save a layer that could not be loaded back.
template <class S>
void check_registered(const Sequential<S>& model, const std::filesystem::path& path) {
  // (an empty model's file had an input shape of 0 features, which load_model refused)
  require(model.size() > 0, "cannot save '", path.string(), "': the model has no layers");
  const auto& registry = LayerRegistry<S>::instance();
  for (std::size_t i = 0; i < model.size(); ++i) {
    const std::string kind(model[i].kind());
    require(registry.contains(kind), "cannot save '", path.string(), "': layer ", i, " (", model[i].describe(),
            ") is of kind '", kind, "', which is not registered, so the file could not be loaded; call "
            "mlp::register_layer for it first");
    require(registry.builds(model[i]), "cannot save '", path.string(), "': layer ", i, " (", model[i].describe(),
            ") says its kind is '", kind, "', but that kind is registered for another class, which loading the "
            "file would build; give your layer a kind of its own");
    // What loading builds from the layer's config() has to hold its tensors (a file was written at every
    // improvement of a run, and refused: "has tensor '1.gain' of 8 x 1, but layer 1 (Gain) needs 1 x 1").
    std::vector<StateShape> has = model.tensor_shapes(i), built;
    try {
      if (const auto shapes = registry.state_shapes(kind, model[i].config())) {
        built = *shapes;
      } else {
        built = Sequential<S>::tensor_shapes_of(*registry.make(kind, model[i].config()));
      }
    } catch (const InvalidArgument& e) {
      fail("cannot save '", path.string(), "': layer ", i, " (", model[i].describe(), ") could not be built again from ",
           "its config(), as loading the file would: ", e.what());
    }
    const auto text = [](const std::vector<StateShape>& list) {
      std::string out;
      for (const auto& t : list) out += concat(out.empty() ? "" : ", ", t.name, " ", shape_string(t.rows, t.cols));
      return out.empty() ? std::string("no tensors") : out;
    };
    const auto by_name = [](const StateShape& a, const StateShape& b) { return a.name < b.name; };
    std::sort(has.begin(), has.end(), by_name);
    std::sort(built.begin(), built.end(), by_name);
    const bool same = has.size() == built.size() && std::equal(has.begin(), has.end(), built.begin(), [](const auto& a, const auto& b) {
      return a.name == b.name && a.rows == b.rows && a.cols == b.cols;
    });
    require(same, "cannot save '", path.string(), "': layer ", i, " (", model[i].describe(), ") holds ", text(has),
            ", but the layer its config() builds (as loading the file would) holds ", text(built),
            "; its config() has to say everything that sets its tensors' shapes");
  }
}

}  // namespace detail

// Writes the model atomically (temporary file, flush, rename; missing folders are created).
template <class S>
void save_model(const std::filesystem::path& path, const Sequential<S>& model, const TextSection& metadata = {}) {
  detail::check_registered(model, path);
  ContainerWriter out;
  detail::write_architecture(out, model);
  out.add_text("metadata", metadata);
  out.add_tensors("state", model.state_dict());
  out.write(path, kModelMagic, kModelFormatVersion);
}

template <class S>
struct LoadedModel {
  Sequential<S> model;
  TextSection metadata;
  std::uint32_t format_version = kModelFormatVersion;
};

// Reads a model file and builds the model it describes, in float or double. Its layers that draw
// random numbers (Dropout) are seeded by seed_random_layers(0), each its own (a file holds no
// generator state; a training checkpoint does).
template <class S = float>
LoadedModel<S> load_model(const std::filesystem::path& path) {
  const auto in = ContainerReader::open(path, kModelMagic, kModelFormatVersion, "an mlp model file",
                                        mlp_file_kinds());
  LoadedModel<S> loaded{detail::read_model<S>(in), in.text("metadata"), in.version()};
  loaded.model.seed_random_layers(0);
  return loaded;
}

// Loads a model file into an existing model, which must have the same layers. Returns the metadata.
template <class S>
TextSection load_model_into(const std::filesystem::path& path, Sequential<S>& model) {
  const auto in = ContainerReader::open(path, kModelMagic, kModelFormatVersion, "an mlp model file",
                                        mlp_file_kinds());
  const Sequential<S> stored = detail::read_model<S>(in);
  const std::string difference = detail::architecture_difference(detail::architecture_of(stored),
                                                                 detail::architecture_of(model));
  if (!difference.empty()) in.fail("holds a different model: ", difference);
  detail::load_state_checked(in, model, stored.state_dict());  // (its message named no file)
  return in.text("metadata");
}

}  // namespace mlp
