#include "helpers.hpp"

#include <mlp/io/model_file.hpp>
#include <mlp/layers/flatten.hpp>

#include <cmath>
#include <limits>

#include <sys/stat.h>

namespace {

mlp::MlpSpec spec_with(std::vector<mlp::Index> hidden) {
  mlp::MlpSpec spec;
  spec.inputs = 5;
  spec.hidden = std::move(hidden);
  spec.classes = 3;
  spec.batch_norm = true;
  spec.dropout = 0.1;
  return spec;
}

using mlp_test::read_bytes;
using mlp_test::write_bytes;

// A layer of the user's own: y = x * sigmoid(beta x), with a configuration and no parameters.
template <class S>
class Swish final : public mlp::Layer<S> {
 public:
  explicit Swish(double beta = 1.0) : beta_(beta) {}
  std::string_view kind() const override { return "TestSwish"; }
  mlp::LayerConfig config() const override { return mlp::LayerConfig().set("beta", beta_); }
  static std::unique_ptr<Swish> from_config(const mlp::LayerConfig& c) {
    return std::make_unique<Swish>(c.real("beta", 0.0, 100.0));
  }
  double beta() const { return beta_; }

 protected:
  const mlp::Matrix<S>& forward_impl(const Eigen::Ref<const mlp::Matrix<S>>& x, mlp::Mode) override {
    x_ = x;
    y_.array() = x.array() * (S(beta_) * x.array()).logistic();
    return y_;
  }
  const mlp::Matrix<S>& backward_impl(const Eigen::Ref<const mlp::Matrix<S>>& dy) override {
    const auto s = (S(beta_) * x_.array()).logistic();
    dx_.array() = dy.array() * (s + S(beta_) * x_.array() * s * (S(1) - s));
    return dx_;
  }

 private:
  double beta_;
  mlp::Matrix<S> x_, y_, dx_;
};

}  // namespace

TEST_CASE("a saved model loads back with its layers, state and metadata") {
  mlp_test::TempDir dir("model_file");
  mlp::ParameterizedMLP<float> model(spec_with({7, 4}), 3);
  model.forward(mlp_test::random_matrix<float>(5, 10, 1), mlp::Mode::Train);  // running stats move
  mlp::save_model(dir.file("m.mlp"), model, {{"dataset", "fashion-mnist"}, {"mean", "0.2859"}});
  const auto loaded = mlp::load_model<float>(dir.file("m.mlp"));
  CHECK(loaded.format_version == 2);
  CHECK(loaded.model.architecture() == model.architecture());
  CHECK(loaded.model.input_shape() == model.input_shape());
  CHECK(loaded.model.summary() == model.summary());
  CHECK(mlp_test::same_state(loaded.model.state_dict(), model.state_dict()));
  CHECK(loaded.metadata.at("dataset") == "fashion-mnist");
  // A double model reads the float file too.
  const auto as_double = mlp::load_model<double>(dir.file("m.mlp"));
  CHECK(as_double.model.state_dict()[0].value.cast<float>() == model.state_dict()[0].value);
  mlp::ParameterizedMLP<float> same_shape(spec_with({7, 4}), 99);
  mlp::load_model_into(dir.file("m.mlp"), same_shape);
  CHECK(mlp_test::same_state(same_shape.state_dict(), model.state_dict()));
}

TEST_CASE("any Sequential saves and loads: images, Flatten, BatchNorm2d and its batch count") {
  mlp_test::TempDir dir("model_any");
  mlp::Rng rng(5);
  mlp::Sequential<float> model(mlp::Shape{2, 3, 3});
  model.emplace<mlp::BatchNorm2d<float>>(2, 1e-3, std::nullopt);
  model.emplace<mlp::LeakyReLU<float>>(0.2);
  model.emplace<mlp::Flatten<float>>();
  model.emplace<mlp::Linear<float>>(18, 4, rng, mlp::Init::XavierNormal, false);
  model.emplace<mlp::Dropout<float>>(0.3);
  model.emplace<mlp::Tanh<float>>();
  model.forward(mlp_test::random_matrix<float>(18, 6, 2), mlp::Mode::Train);
  mlp::save_model(dir.file("m.mlp"), model);
  const auto loaded = mlp::load_model<float>(dir.file("m.mlp"));
  CHECK(loaded.model.architecture() == model.architecture());
  CHECK(loaded.model.output_shape() == mlp::Shape::flat(4));
  CHECK(mlp_test::same_state(loaded.model.state_dict(), model.state_dict()));
  const auto& bn = dynamic_cast<const mlp::BatchNorm2d<float>&>(loaded.model[0]);
  CHECK(bn.num_batches_tracked() == 1.0);
  CHECK(!bn.momentum().has_value());
  CHECK(bn.eps() == 1e-3);
  CHECK(dynamic_cast<const mlp::Linear<float>&>(loaded.model[3]).has_bias() == false);
  const auto x = mlp_test::random_matrix<float>(18, 4, 3);
  auto& reloaded = const_cast<mlp::Sequential<float>&>(loaded.model);
  CHECK(reloaded.predict(x) == model.predict(x));
}

TEST_CASE("a user's layer saves and loads once registered; an unknown kind is named") {
  mlp_test::TempDir dir("model_user");
  mlp::Rng rng(1);
  mlp::Sequential<float> model;
  model.emplace<mlp::Linear<float>>(3, 4, rng);
  model.emplace<Swish<float>>(1.5);
  CHECK_THROWS_WITH_AS(mlp::save_model(dir.file("m.mlp"), model),
                       doctest::Contains("layer 1 (TestSwish) is of kind 'TestSwish', which is not registered"),
                       mlp::InvalidArgument);
  mlp::ContainerWriter out;  // as an older program would have written it, without registering
  mlp::detail::write_architecture(out, model);
  out.add_text("metadata", {});
  out.add_tensors("state", model.state_dict());
  out.write(dir.file("unknown.mlp"), mlp::kModelMagic, mlp::kModelFormatVersion);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("unknown.mlp")),
                       doctest::Contains("holds an unusable layer 1: unknown layer kind 'TestSwish' (known kinds: "),
                       mlp::IoError);
  mlp::register_layer<Swish>("TestSwish");
  CHECK_THROWS_WITH_AS(mlp::register_layer<Swish>("TestSwish"), "layer kind 'TestSwish' is already registered",
                       mlp::InvalidArgument);
  mlp::save_model(dir.file("m.mlp"), model);
  const auto loaded = mlp::load_model<double>(dir.file("m.mlp"));
  CHECK(dynamic_cast<const Swish<double>&>(loaded.model[1]).beta() == 1.5);
  CHECK(loaded.model.architecture() == model.architecture());
}

TEST_CASE("a version-1 model file (an MlpSpec) still loads") {
  mlp_test::TempDir dir("model_v1");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  mlp::ContainerWriter out;
  out.add_text("spec", mlp::detail::spec_to_text(model.spec()));
  out.add_text("metadata", {{"dataset", "fashion-mnist"}});
  mlp::StateDict<float> v1_state;  // version 1 had no num_batches_tracked
  for (auto& t : model.state_dict()) {
    if (t.name.find("num_batches_tracked") == std::string::npos) v1_state.push_back(t);
  }
  out.add_tensors("state", v1_state);
  out.write(dir.file("v1.mlp"), mlp::kModelMagic, 1);
  const auto loaded = mlp::load_model<float>(dir.file("v1.mlp"));
  CHECK(loaded.format_version == 1);
  CHECK(loaded.model.architecture() == model.architecture());
  CHECK(mlp_test::same_state(loaded.model.state_dict(), model.state_dict()));
}

TEST_CASE("a model file that names a section, an entry or a tensor twice is refused") {
  // (the reader kept the last copy, the model the first: which one counted was the reader's choice)
  mlp_test::TempDir dir("model_twice");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  const auto write = [&](bool twice_section, bool twice_tensor) {
    mlp::ContainerWriter out;
    out.add_text("spec", mlp::detail::spec_to_text(model.spec()));
    out.add_text("metadata", {{"dataset", "fashion-mnist"}});
    // (the writer refuses a second section of one name: the copy is renamed in the bytes below)
    if (twice_section) out.add_text("metadatX", {{"dataset", "mnist"}});
    mlp::StateDict<float> state;
    for (auto& t : model.state_dict()) {
      if (t.name.find("num_batches_tracked") == std::string::npos) state.push_back(t);
    }
    if (twice_tensor) state.push_back(state.front());
    out.add_tensors("state", state);
    std::string bytes = out.finish(mlp::kModelMagic, 1);
    const auto at = bytes.find("metadatX");
    if (at != std::string::npos) {
      bytes[at + 7] = 'a';
      mlp_test::repair_container(bytes);
    }
    mlp::write_file_atomically(dir.file("m.mlp"), bytes);
  };
  write(false, false);
  CHECK(mlp::load_model<float>(dir.file("m.mlp")).model.architecture() == model.architecture());
  write(true, false);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("m.mlp")),
                       mlp_test::contains("is malformed: section 'metadata' appears twice"), mlp::IoError);
  write(false, true);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("m.mlp")),
                       mlp_test::contains("is malformed: section 'state' has the tensor '0.weight' twice"),
                       mlp::IoError);
}

TEST_CASE("loading names a wrong magic number, a newer version, another model") {
  mlp_test::TempDir dir("model_bad");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  mlp::save_model(dir.file("m.mlp"), model);
  const std::string good = read_bytes(dir.file("m.mlp"));

  write_bytes(dir.file("text.mlp"), "hello, this is not a model at all, it is a text file\n");
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("text.mlp")),
                       mlp_test::contains("'" + dir.file("text.mlp") +
                                          "' is not an mlp model file: it does not start with the "
                                          "magic bytes \"MLPMODEL\""),
                       mlp::IoError);
  std::string checkpoint = good;
  checkpoint.replace(0, 8, "MLPCKPT1");
  write_bytes(dir.file("ckpt.mlp"), checkpoint);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("ckpt.mlp")),
                       doctest::Contains("is an mlp training checkpoint, not an mlp model file"),
                       mlp::IoError);
  std::string newer = good;
  newer[8] = 7;  // format version 7
  write_bytes(dir.file("newer.mlp"), newer);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("newer.mlp")),
                       doctest::Contains("was written by a newer version of mlp (format version 7; "
                                         "this build reads versions 1 to 2)"),
                       mlp::IoError);
  mlp::ParameterizedMLP<float> other(spec_with({8}), 3);
  CHECK_THROWS_WITH_AS(mlp::load_model_into(dir.file("m.mlp"), other),
                       doctest::Contains("holds a different model: layer 0 is Linear(bias=1, in_features=5, "
                                         "out_features=7) there, Linear(bias=1, in_features=5, out_features=8) here"),
                       mlp::IoError);
}

TEST_CASE("loading names a truncated body, trailing bytes and a bad checksum") {
  mlp_test::TempDir dir("model_corrupt");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  mlp::save_model(dir.file("m.mlp"), model);
  const std::string good = read_bytes(dir.file("m.mlp"));

  write_bytes(dir.file("cut.mlp"), good.substr(0, good.size() - 100));
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("cut.mlp")),
                       mlp_test::contains("is truncated: its header declares " + std::to_string(good.size()) +
                                          " bytes, but the file has " + std::to_string(good.size() - 100)),
                       mlp::IoError);
  write_bytes(dir.file("tiny.mlp"), good.substr(0, 12));
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("tiny.mlp")),
                       doctest::Contains("is truncated: 12 bytes is too short"), mlp::IoError);
  write_bytes(dir.file("long.mlp"), good + "xyz");
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("long.mlp")),
                       doctest::Contains("has 3 unexpected bytes after the"), mlp::IoError);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  write_bytes(dir.file("flipped.mlp"), flipped);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("flipped.mlp")),
                       doctest::Contains("is corrupt: checksum mismatch"), mlp::IoError);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("missing.mlp")),
                       doctest::Contains("cannot open"), mlp::IoError);
}

TEST_CASE("save_model writes atomically") {
  mlp_test::TempDir dir("model_write");
  mlp::ParameterizedMLP<float> model(spec_with({3}), 1);
  mlp::save_model(dir.file("m.mlp"), model);
  CHECK_THROWS_WITH_AS(mlp::save_model(dir.file("m.mlp/dir/m.mlp"), model),
                       mlp_test::contains("cannot write '" + dir.file("m.mlp/dir/m.mlp") +
                                          "': cannot create its folder '" + dir.file("m.mlp/dir") +
                                          "': Not a directory"),
                       mlp::IoError);
  mlp::save_model(dir.file("m.mlp"), model);
  const mlp::Sequential<float> empty;  // (its file was written, and load_model refused it)
  CHECK_THROWS_WITH_AS(mlp::save_model(dir.file("empty.mlp"), empty),
                       ("cannot save '" + dir.file("empty.mlp") + "': the model has no layers").c_str(),
                       mlp::InvalidArgument);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 1);
}

// write_architecture's sections for `model`, with layer 0's replaced by `layer0` unless it is empty
// (a section given twice is refused: the files below are crafted with one copy of each).
static void write_architecture_with(mlp::ContainerWriter& out, const mlp::Sequential<float>& model,
                             const mlp::TextSection& layer0) {
  out.add_text("model", {{"input_shape", mlp::detail::shape_text(model.input_shape())},
                         {"layers", std::to_string(model.size())}});
  const auto layers = model.architecture();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    mlp::TextSection section = layers[i].config.entries();
    section["kind"] = layers[i].kind;
    out.add_text("layer." + std::to_string(i), i == 0 && !layer0.empty() ? layer0 : section);
  }
}

TEST_CASE("a model file whose layer list does not match its tensors is refused before anything is built") {
  mlp_test::TempDir dir("model_spec");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  // Files that claim a huge network but hold the small one's tensors (valid checksums).
  mlp::ContainerWriter v2;
  write_architecture_with(v2, model,
                          {{"kind", "Linear"}, {"in_features", "5"}, {"out_features", "16000000"}, {"bias", "1"}});
  v2.add_text("metadata", {});
  v2.add_tensors("state", model.state_dict());
  std::string bytes = v2.finish(mlp::kModelMagic, mlp::kModelFormatVersion);
  write_bytes(dir.file("huge2.mlp"), bytes);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("huge2.mlp")),
                       doctest::Contains("has tensor '0.weight' of 7 x 5, but layer 0 (Linear) needs 16000000 x 5"),
                       mlp::IoError);
  mlp::ContainerWriter v1;
  auto huge = spec_with({7});
  huge.hidden = {1 << 20};
  v1.add_text("spec", mlp::detail::spec_to_text(huge));
  v1.add_text("metadata", {});
  v1.add_tensors("state", model.state_dict());
  v1.write(dir.file("huge1.mlp"), mlp::kModelMagic, 1);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("huge1.mlp")),
                       doctest::Contains("does not hold tensor '0.weight' of 1048576 x 5, which its spec"),
                       mlp::IoError);
}

TEST_CASE("a model file with layers that do not fit together, a bad configuration or NaN weights is refused") {
  mlp_test::TempDir dir("model_content");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  auto write = [&](const std::string& name, const mlp::TextSection& layer0, const mlp::StateDict<float>& state) {
    mlp::ContainerWriter out;
    write_architecture_with(out, model, layer0);
    out.add_text("metadata", {});
    out.add_tensors("state", state);
    write_bytes(dir.file(name), out.finish(mlp::kModelMagic, mlp::kModelFormatVersion));
  };
  write("nonsense.mlp", {{"kind", "Linear"}, {"in_features", "0/28"}, {"out_features", "7"}, {"bias", "1"}},
        model.state_dict());
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("nonsense.mlp")),
                       doctest::Contains("'in_features' has to be an integer from 1 to 16777216, but is '0/28'"),
                       mlp::IoError);
  auto state = model.state_dict();
  state[0].value(1, 2) = std::numeric_limits<float>::quiet_NaN();
  write("nan.mlp", {}, state);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("nan.mlp")),
                       doctest::Contains("holds non-finite values (NaN or infinity) in tensor '0.weight'"),
                       mlp::IoError);
}

TEST_CASE("a model path that is not a model file says what it is, before reading all of it") {
  mlp_test::TempDir dir("model_kinds");
  std::filesystem::create_directories(dir.path() / "best.mlp");
  // REQUIRE: without the file-kind check, the FIFO below would block the test.
  REQUIRE_THROWS_WITH_AS(mlp::load_model<float>(dir.file("best.mlp")),
                         mlp_test::contains("cannot open '" + dir.file("best.mlp") + "': it is a directory"),
                         mlp::IoError);
  REQUIRE(::mkfifo(dir.file("pipe.mlp").c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("pipe.mlp")),
                       mlp_test::contains("cannot open '" + dir.file("pipe.mlp") + "': it is a FIFO"),
                       mlp::IoError);
  // 512 MiB of another kind (sparse: nothing is written) is refused by its first 8 bytes.
  mlp_test::write_sparse(dir.file("big.mlp"), "NOTMODEL", std::uint64_t{512} << 20);
  const std::uint64_t growth = mlp_test::peak_memory_growth([&] {
    CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("big.mlp")),
                         mlp_test::contains("'" + dir.file("big.mlp") + "' is not an mlp model file: it "
                                            "does not start with the magic bytes \"MLPMODEL\""),
                         mlp::IoError);
  });
  CHECK(growth < (std::uint64_t{128} << 20));
}

TEST_CASE("a format version of 0 is called invalid, not newer") {
  mlp_test::TempDir dir("model_version0");
  mlp::ParameterizedMLP<float> model(spec_with({3}), 1);
  mlp::save_model(dir.file("m.mlp"), model);
  std::string bytes = read_bytes(dir.file("m.mlp"));
  bytes[8] = 0;  // format version 0 (little-endian u32 at offset 8; it was 2)
  write_bytes(dir.file("v0.mlp"), bytes);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("v0.mlp")),
                       mlp_test::contains("'" + dir.file("v0.mlp") + "' has an invalid format version 0 "
                                          "(this build reads versions 1 to 2)"),
                       mlp::IoError);
}

TEST_CASE("an intact model file with a non-zero reserved header field is refused") {
  mlp_test::TempDir dir("model_reserved");
  mlp::ParameterizedMLP<float> model(spec_with({3}), 1);
  mlp::save_model(dir.file("m.mlp"), model);
  std::string bytes = read_bytes(dir.file("m.mlp"));
  bytes[12] = 7;  // the reserved u32 at offset 12 (mlp writes 0)
  mlp_test::repair_container(bytes);  // a valid checksum: not a corrupt byte, a field this build does not know
  write_bytes(dir.file("r.mlp"), bytes);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("r.mlp")),
                       mlp_test::contains("'" + dir.file("r.mlp") + "' has a non-zero reserved header field (7): "
                                          "mlp writes 0 there"),
                       mlp::IoError);
}

TEST_CASE("a model file whose input shape holds too many values is refused, also when the product wraps") {
  mlp_test::TempDir dir("model_input_shape");
  // (2^24 x 2^24 x 2^16 = 2^64 wraps to 0; the last is one row over 2^28 values)
  for (const char* shape : {"16777216,16777216,65536", "16777216,16777216,16777216", "16,4097,4096"}) {
    CAPTURE(shape);
    mlp::ContainerWriter out;
    out.add_text("model", {{"input_shape", shape}, {"layers", "0"}});
    out.add_text("metadata", {});
    out.add_tensors("state", mlp::StateDict<float>{});
    out.write(dir.file("m.mlp"), mlp::kModelMagic, mlp::kModelFormatVersion);
    CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("m.mlp")), doctest::Contains("values, too large"),
                         mlp::IoError);
  }
}

TEST_CASE("numbers in files are read only as mlp writes them: no spaces, '+', hexadecimal or out of range") {
  std::int64_t i = 7;
  std::uint64_t u = 7;
  double d = 7.0;
  CHECK((mlp::detail::parse_int64("-42", i) && i == -42));
  CHECK((mlp::detail::parse_int64("9223372036854775807", i) && i == INT64_MAX));
  CHECK((mlp::detail::parse_uint64("18446744073709551615", u) && u == UINT64_MAX));
  CHECK((mlp::detail::parse_double("1e+20", d) && d == 1e20));
  CHECK((mlp::detail::parse_double("-nan", d) && std::isnan(d)));  // a diverged run's history
  CHECK((mlp::detail::parse_double("4.9406564584124654e-324", d) && d > 0.0));  // the smallest subnormal
  for (const char* bad : {"", " 42", "+42", "42 ", "0x10", "9223372036854775808", "-9223372036854775809", "4.2"}) {
    CAPTURE(bad);
    CHECK_FALSE(mlp::detail::parse_int64(bad, i));
  }
  for (const char* bad : {"", " 42", "+42", "-1", "18446744073709551616", "0x10"}) {
    CAPTURE(bad);
    CHECK_FALSE(mlp::detail::parse_uint64(bad, u));
  }
  for (const char* bad : {"", " 0.5", "+0.5", "0x1p-2", "0.5x"}) {
    CAPTURE(bad);
    CHECK_FALSE(mlp::detail::parse_double(bad, d));
  }
  CHECK(i == INT64_MAX);  // a refused text leaves the value as it was
}
