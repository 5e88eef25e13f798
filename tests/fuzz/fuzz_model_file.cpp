// The model-file loader on arbitrary bytes: container checks, layer list, tensors, then a forward pass.
#include "fuzz_common.hpp"

#include <mlp/io/model_file.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = fuzz::container_input(data, size);
  const std::string& path = fuzz::write_scratch("model", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  try {
    auto loaded = mlp::load_model<float>(path);
    loaded.model.predict(mlp::Matrix<float>::Ones(loaded.model.input_shape().size(), 2));
  } catch (const mlp::Error&) {
  }
  return 0;
}
