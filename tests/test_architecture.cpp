// The study's architecture text (--arch): parsing, building, and the estimate that guards memory.
#include "helpers.hpp"

#include <mlp_app/model_builder.hpp>

TEST_CASE("the study's CNN is built from its architecture text with the expected shapes and parameters") {
  const auto blocks = mlp::app::parse_architecture("conv32bn,pool,conv64bn,pool,fc128");
  REQUIRE(blocks.size() == 5);
  auto model = mlp::app::build_architecture<float>(blocks, mlp::Shape{1, 28, 28}, 10, mlp::Activation::ReLU,
                                                   mlp::Init::KaimingUniform, 42);
  INFO(model.summary());
  CHECK(model.parameter_count() == 421834);
  CHECK(model.output_shape() == mlp::Shape::flat(10));
  CHECK(model[3].kind() == "MaxPool2d");
  CHECK(model[3].output_shape() == mlp::Shape(32, 14, 14));
  CHECK(model[8].kind() == "Flatten");
  const auto estimate = mlp::app::estimate_architecture(blocks, mlp::Shape{1, 28, 28}, 10);
  CHECK(estimate.parameters == 421834.0);
  // Same seed, same weights; the first conv draws from derive_seed(42, "init") like an MLP.
  auto again = mlp::app::build_architecture<float>(blocks, mlp::Shape{1, 28, 28}, 10, mlp::Activation::ReLU,
                                                   mlp::Init::KaimingUniform, 42);
  CHECK(mlp_test::same_state(model.state_dict(), again.state_dict()));
}

TEST_CASE("fc blocks build the same MLP as ParameterizedMLP, dropout seeds included") {
  mlp::MlpSpec spec;
  spec.inputs = 784;
  spec.hidden = {64, 32};
  spec.classes = 10;
  spec.batch_norm = true;
  spec.dropout = 0.2;
  mlp::ParameterizedMLP<float> mlp_model(spec, 7);
  auto built = mlp::app::build_architecture<float>(mlp::app::parse_architecture("fc64bn,drop0.2,fc32bn,drop0.2"),
                                                   mlp::Shape::flat(784), 10, mlp::Activation::ReLU,
                                                   mlp::Init::KaimingUniform, 7);
  CHECK(built.architecture() == mlp_model.architecture());
  CHECK(mlp_test::same_state(built.state_dict(), mlp_model.state_dict()));
  CHECK(built.random_states() == mlp_model.random_states());
  CHECK(mlp::app::estimate_architecture(mlp::app::mlp_blocks(spec.hidden, true, 0.2), mlp::Shape::flat(784), 10)
            .parameters == static_cast<double>(mlp_model.parameter_count()));
}

TEST_CASE("bad architecture text names the block and what was expected") {
  auto fails = [](const std::string& text, const std::string& message) {
    CHECK_THROWS_WITH_AS(mlp::app::parse_architecture(text), mlp_test::contains(message), mlp::InvalidArgument);
  };
  fails("conv", "architecture block 'conv' needs a size from 1 to 65536");
  fails("conv0", "architecture block 'conv0' needs a size");
  fails("conv32k4", "architecture block 'conv32k4' needs an odd kernel size from 1 to 31");
  fails("conv32,poo", "architecture block 'poo' is unknown (expected conv<C>[k<K>][bn]");
  fails("pool99", "needs a kernel size from 1 to 64");
  fails("fc128x", "architecture block 'fc128x' has unexpected characters");
  fails("drop1.5", "architecture block 'drop1.5' needs a probability in (0, 1)");
  fails("fc8,conv8", "architecture block 'conv8' follows an fc block");
  fails("", "an architecture needs at least one block");
  fails("fc0000000000", "architecture block 'fc0000000000' needs a size from 1 to 65536");
  fails("fc0000065537", "needs a size from 1 to 65536");
  // (leading zeros counted towards the digits: a size of 32 was "not from 1 to 65536")
  CHECK(mlp::app::parse_architecture("fc0000000032")[0].size == 32);
  CHECK_THROWS_WITH_AS(mlp::app::estimate_architecture(mlp::app::parse_architecture("pool,pool,pool,pool,pool"),
                                                       mlp::Shape{1, 28, 28}, 10),
                       doctest::Contains("a pool of 2 x 2 does not fit an image of 1 x 1 x 1"), mlp::InvalidArgument);
}

TEST_CASE("a conv block after a pool as large as the image convolves the 1 x 1 image; a vector input is refused") {
  // (it was refused: "a conv block needs an image, but follows a feature vector of 4")
  const auto blocks = mlp::app::parse_architecture("conv4,pool28,conv8");
  auto model = mlp::app::build_architecture<float>(blocks, mlp::Shape{1, 28, 28}, 10, mlp::Activation::ReLU,
                                                   mlp::Init::KaimingUniform, 1);
  INFO(model.summary());
  CHECK(model.output_shape() == mlp::Shape::flat(10));
  const auto estimate = mlp::app::estimate_architecture(blocks, mlp::Shape{1, 28, 28}, 10);
  CHECK(estimate.parameters == static_cast<double>(model.parameter_count()));
  const mlp::Matrix<float> x = mlp::Matrix<float>::Ones(784, 3);
  CHECK(model.forward(x, mlp::Mode::Eval).allFinite());
  CHECK_THROWS_WITH_AS(mlp::app::estimate_architecture(mlp::app::parse_architecture("conv4"), mlp::Shape::flat(784), 10),
                       "a conv block needs an image, but the model's input is a vector of 784 features",
                       mlp::InvalidArgument);
}

TEST_CASE("the memory estimate counts the evaluation's batches of 1000 and a convolution's patches per chunk") {
  const auto estimate = [](const char* arch) {
    return mlp::app::estimate_architecture(mlp::app::parse_architecture(arch), mlp::Shape{1, 28, 28}, 10);
  };
  const double gib = 1024.0 * 1024.0 * 1024.0;
  // (it passed at batch size 2, and the first validation asked for 385 GiB)
  CHECK(estimate("conv65536,pool28").training_bytes(2, 2) > 300 * gib);
  // (patches counted for all 1000 samples refused this model at 77 GiB; it peaks at 1.7 GB)
  CHECK(estimate("conv256,conv8k7,fc10").training_bytes(16, 2) < 4 * gib);
  // The study's CNN at its batch of 128.
  CHECK(estimate("conv32bn,pool,conv64bn,pool,fc128").training_bytes(128, 2) < 2 * gib);
}
