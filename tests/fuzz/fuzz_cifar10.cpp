// The CIFAR-10 batch reader on arbitrary bytes.
#include "fuzz_common.hpp"

#include <mlp/data/cifar10.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = fuzz::write_scratch("cifar", data, size);
  try {
    mlp::Pixels pixels;
    mlp::Labels labels;
    mlp::read_cifar10_batch(path, pixels, labels);
  } catch (const mlp::Error&) {
  }
  return 0;
}
