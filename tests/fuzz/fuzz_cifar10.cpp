// The CIFAR-10 batch reader on arbitrary bytes, then on the same bytes inside a valid gzip stream,
// whole and with its end cut off (random bytes rarely form a deflate stream).
#include "fuzz_common.hpp"

#include <mlp/data/cifar10.hpp>

#include <algorithm>

namespace {

void read_batch(const std::string& path) {
  try {
    mlp::Pixels pixels;
    mlp::Labels labels;
    mlp::read_cifar10_batch(path, pixels, labels);
  } catch (const mlp::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  read_batch(fuzz::write_scratch("cifar", data, size));
  const mlp_test::Bytes gz = mlp_test::gzip(data, size);
  read_batch(fuzz::write_scratch("cifar", gz.data(), gz.size()));
  const std::size_t cut = std::min(gz.size(), 1 + size % 12);  // into the 8-byte trailer or before
  read_batch(fuzz::write_scratch("cifar", gz.data(), gz.size() - cut));
  return 0;
}
