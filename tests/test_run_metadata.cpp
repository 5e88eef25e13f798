// The run metadata train stores in best.mlp, as evaluate reads it back: every field checked
// against the model and the data before use.
#include "helpers.hpp"

#include <mlp_app/run_metadata.hpp>

#include <string>

namespace {

using mlp::app::read_run_metadata;

mlp::TextSection valid_metadata() {
  std::string names;
  for (const auto& n : mlp::fashion_mnist_class_names()) names += (names.empty() ? "" : "\n") + n;
  return {{"dataset", "fashion-mnist"}, {"channels", "1"},          {"height", "28"},
          {"width", "28"},              {"mean", "0.286"},          {"stddev", "0.353"},
          {"class_names", names},       {"split_seed", "42"},       {"validation", "10000"},
          {"split_fingerprint", "ac3ef0d9"}, {"epoch", "3"},       {"config", "{}"}};
}

const mlp::Shape kInput = mlp::Shape::flat(784);

// The message read_run_metadata gives for the valid metadata with `key` set to `value`.
std::string refusal(const std::string& key, const std::string& value, const mlp::Shape& input = kInput,
                    mlp::Index classes = 10) {
  auto meta = valid_metadata();
  if (value == "<none>") {
    meta.erase(key);
  } else {
    meta[key] = value;
  }
  try {
    read_run_metadata(meta, "m.mlp", input, classes);
  } catch (const mlp::IoError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("run metadata: the fields train writes are read back") {
  const auto m = read_run_metadata(valid_metadata(), "m.mlp", kInput, 10);
  CHECK(m.dataset == mlp::DatasetKind::FashionMnist);
  CHECK(m.image == mlp::Shape(1, 28, 28));
  CHECK(m.standardizer.pixels_per_channel == 784);
  CHECK(m.standardizer.mean == std::vector<double>{0.286});
  CHECK(m.class_names == mlp::fashion_mnist_class_names());
  CHECK(m.split_seed == 42);
  CHECK(m.validation == 10000);
  CHECK(m.split_fingerprint == "ac3ef0d9");
  CHECK(m.epoch == "3");
  CHECK(m.train_limit == 0);
  CHECK(mlp::app::validation_images_used(m, 10000) == 10000);
  // A CNN's input is the image itself; a file without an epoch says nothing about it.
  auto meta = valid_metadata();
  meta.erase("epoch");
  CHECK(read_run_metadata(meta, "m.mlp", mlp::Shape(1, 28, 28), 10).epoch.empty());
  // A --train-limit run validated on the first N/5 images of its split only.
  meta["config"] = R"({"lr":0.001,"train_limit":3000})";
  const auto limited = read_run_metadata(meta, "m.mlp", kInput, 10);
  CHECK(limited.train_limit == 3000);
  CHECK(limited.precision == mlp::MatmulPrecision::Float32);  // (no precision: files of versions before bf16)
  meta["config"] = R"({"lr":0.001,"train_limit":3000,"precision":"bf16"})";
  CHECK(read_run_metadata(meta, "m.mlp", kInput, 10).precision == mlp::MatmulPrecision::BFloat16);
  meta["config"] = R"({"lr":0.001,"train_limit":3000})";
  CHECK(mlp::app::validation_images_used(limited, 10000) == 600);
  // Files of versions before 2026-12-01: split seeds up to 2^63 - 1, no train_limit in the config.
  meta["split_seed"] = "9223372036854775807";
  meta["config"] = R"({"lr":0.001})";
  const auto older = read_run_metadata(meta, "m.mlp", kInput, 10);
  CHECK(older.split_seed == 9223372036854775807ULL);
  CHECK(older.train_limit == 0);
}

TEST_CASE("run metadata: a missing, malformed or inconsistent field is refused, naming the file and the field") {
  CHECK(refusal("dataset", "<none>") == "'m.mlp' has no 'dataset' in its metadata (was it written by the train program?)");
  CHECK(refusal("dataset", "imagenet") == "'m.mlp' names an unknown data set in its metadata: unknown dataset "
                                          "'imagenet' (expected fashion-mnist, mnist or cifar10)");
  CHECK(refusal("channels", "3") == "'m.mlp' says its images are 3 x 28 x 28 (2352 values), but its model takes "
                                    "784 features");
  CHECK(refusal("height", "-28") == "'m.mlp' has a bad height '-28' in its metadata (expected a whole number from 1 "
                                    "to 65535)");
  CHECK(refusal("width", "28.5") == "'m.mlp' has a bad width '28.5' in its metadata (expected a whole number from 1 "
                                    "to 65535)");
  CHECK(refusal("mean", "0.1,0.2") == "'m.mlp' has 2 means in its metadata for images of 1 channel");
  CHECK(refusal("channels", "3", mlp::Shape::flat(2352)) ==
        "'m.mlp' has 1 mean in its metadata for images of 3 channels");
  // A CNN takes the image itself: the same number of values in another shape is not it.
  CHECK(refusal("height", "784", mlp::Shape(1, 28, 28)) == "'m.mlp' says its images are 1 x 784 x 28 (21952 "
                                                            "values), but its model takes 1 x 28 x 28");
  CHECK(refusal("width", "1", mlp::Shape(1, 28, 28)).find("but its model takes 1 x 28 x 28") != std::string::npos);
  CHECK(refusal("stddev", "nan") == "'m.mlp' has a bad stddev 'nan' in its metadata");
  CHECK(refusal("stddev", "0") == "'m.mlp' has unusable preprocessing statistics: Standardizer channel 0 has mean "
                                  "0.286 and standard deviation 0 (both have to be finite, the standard deviation positive)");
  CHECK(refusal("class_names", "a\nb\nc") == "'m.mlp' names 3 classes in its metadata, but its model predicts 10");
  CHECK(refusal("class_names", "a\n\nc", kInput, 3) == "'m.mlp' has an empty name for class 1 in its metadata");
  CHECK(refusal("split_seed", "xyz") == "'m.mlp' has a bad split_seed 'xyz' in its metadata (expected a whole "
                                        "number from 0 to 9223372036854775807)");
  CHECK(refusal("validation", "0") == "'m.mlp' has a bad validation '0' in its metadata (expected a whole number "
                                      "from 1 to 1099511627776)");
  CHECK(refusal("split_fingerprint", "AC3EF0D9") == "'m.mlp' has a bad split_fingerprint 'AC3EF0D9' in its "
                                                    "metadata (expected 8 hex digits)");
  CHECK(refusal("epoch", "-5") == "'m.mlp' has a bad epoch '-5' in its metadata (expected a whole number from 1 to "
                                  "1000000)");
  CHECK(refusal("epoch", "0") != "(accepted)");
  CHECK(refusal("config", "{\"train_limit\":") == "'m.mlp' has an unusable config in its metadata (the run's "
                                                "configuration, whose train_limit --split val and whose "
                                                "precision evaluate use): invalid JSON "
                                                "at line 1, column 16: unexpected end");
  CHECK(refusal("config", "{\"train_limit\":-3}") != "(accepted)");
  CHECK(refusal("config", "{\"precision\":\"fp16\"}") ==
        "'m.mlp' has an unusable config in its metadata (the run's configuration, whose train_limit --split val and "
        "whose precision evaluate use): unknown precision 'fp16' (expected fp32 or bf16)");
  for (const char* not_object : {"3", "[1]", "null", "\"x\""}) {
    CAPTURE(not_object);
    CHECK(refusal("config", not_object) == "'m.mlp' has an unusable config in its metadata (the run's configuration, "
                                           "whose train_limit --split val and whose precision evaluate use): it is "
                                           "not a JSON object");
  }
}

TEST_CASE("run metadata: data of other image shapes or other classes than the model's is refused") {
  const auto m = read_run_metadata(valid_metadata(), "m.mlp", kInput, 10);
  mlp::Dataset data;
  data.shape = {1, 28, 28};
  data.class_names = mlp::fashion_mnist_class_names();
  CHECK_NOTHROW(mlp::app::check_same_data(m, "m.mlp", data, "DIR"));
  data.class_names[0] = "Top";
  CHECK_THROWS_WITH_AS(mlp::app::check_same_data(m, "m.mlp", data, "DIR"),
                       "'m.mlp' was trained on the classes T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, "
                       "Shirt, Sneaker, Bag, Ankle boot, but DIR has Top, Trouser, Pullover, Dress, Coat, Sandal, "
                       "Shirt, Sneaker, Bag, Ankle boot",
                       mlp::IoError);
  data.class_names = mlp::fashion_mnist_class_names();
  data.shape = {3, 28, 28};
  CHECK_THROWS_WITH_AS(mlp::app::check_same_data(m, "m.mlp", data, "DIR"),
                       "'m.mlp' was trained on images of 1 x 28 x 28, but the images in DIR are 3 x 28 x 28",
                       mlp::IoError);
}
