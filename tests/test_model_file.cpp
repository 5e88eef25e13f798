#include "helpers.hpp"

#include <mlp/io/model_file.hpp>

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

}  // namespace

TEST_CASE("a saved model loads back with its architecture, state and metadata") {
  mlp_test::TempDir dir("model_file");
  mlp::ParameterizedMLP<float> model(spec_with({7, 4}), 3);
  model.forward(mlp_test::random_matrix<float>(5, 10, 1), mlp::Mode::Train);  // running stats move
  mlp::save_model(dir.file("m.mlp"), model, {{"dataset", "fashion-mnist"}, {"mean", "0.2859"}});
  const auto loaded = mlp::load_model<float>(dir.file("m.mlp"));
  CHECK(loaded.model.spec() == model.spec());
  CHECK(mlp_test::same_state(loaded.model.state_dict(), model.state_dict()));
  CHECK(loaded.metadata.at("dataset") == "fashion-mnist");
  // A double model reads the float file too.
  const auto as_double = mlp::load_model<double>(dir.file("m.mlp"));
  CHECK(as_double.model.state_dict()[0].value.cast<float>() == model.state_dict()[0].value);
  mlp::ParameterizedMLP<float> same_shape(spec_with({7, 4}), 99);
  mlp::load_model_into(dir.file("m.mlp"), same_shape);
  CHECK(mlp_test::same_state(same_shape.state_dict(), model.state_dict()));
}

TEST_CASE("loading names a wrong magic number, a newer version, another architecture") {
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
                                         "this build reads versions 1 to 1)"),
                       mlp::IoError);
  mlp::ParameterizedMLP<float> other(spec_with({8}), 3);
  CHECK_THROWS_WITH_AS(mlp::load_model_into(dir.file("m.mlp"), other),
                       doctest::Contains("holds a different architecture: 5-7-3 relu +batchnorm "
                                         "dropout=0.1, but the model is 5-8-3 relu +batchnorm dropout=0.1"),
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

TEST_CASE("save_model writes atomically and reports an unwritable path") {
  mlp_test::TempDir dir("model_write");
  mlp::ParameterizedMLP<float> model(spec_with({3}), 1);
  mlp::save_model(dir.file("m.mlp"), model);
  CHECK_THROWS_WITH_AS(mlp::save_model(dir.file("m.mlp/dir/m.mlp"), model),
                       mlp_test::contains("cannot write '" + dir.file("m.mlp/dir/m.mlp") +
                                          "': cannot create its folder '" + dir.file("m.mlp/dir") +
                                          "': Not a directory"),
                       mlp::IoError);
  mlp::save_model(dir.file("m.mlp"), model);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("a model file whose spec does not match its tensors is refused before anything is built") {
  mlp_test::TempDir dir("model_spec");
  mlp::ParameterizedMLP<float> model(spec_with({7}), 3);
  // A file that claims a huge network but holds the small one's tensors (valid checksum).
  mlp::ContainerWriter out;
  auto huge = spec_with({7});
  huge.hidden = {1 << 30};
  out.add_text("spec", mlp::spec_to_text(huge));
  out.add_text("metadata", {});
  out.add_tensors("state", model.state_dict());
  out.write(dir.file("huge.mlp"), mlp::kModelMagic, mlp::kModelFormatVersion);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("huge.mlp")),
                       doctest::Contains("has tensor '0.weight' of 7 x 5, but its spec (5-1073741824-3 relu "
                                         "+batchnorm dropout=0.1) needs 1073741824 x 5"),
                       mlp::IoError);
  const auto shapes = mlp::expected_state_shapes(model.spec());
  const auto state = model.state_dict();
  REQUIRE(shapes.size() == state.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    CHECK(shapes[i].name == state[i].name);
    CHECK(shapes[i].rows == state[i].value.rows());
    CHECK(shapes[i].cols == state[i].value.cols());
  }
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
  bytes[8] = 0;  // format version 0 (little-endian u32 at offset 8; it was 1)
  write_bytes(dir.file("v0.mlp"), bytes);
  CHECK_THROWS_WITH_AS(mlp::load_model<float>(dir.file("v0.mlp")),
                       mlp_test::contains("'" + dir.file("v0.mlp") + "' has an invalid format version 0 "
                                          "(this build reads versions 1 to 1)"),
                       mlp::IoError);
}
