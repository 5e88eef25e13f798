// The IDX reader on arbitrary bytes (raw, or gzip when the input starts with its magic).
#include "fuzz_common.hpp"

#include <mlp/data/idx.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = fuzz::write_scratch("idx", data, size);
  try {
    mlp::Index rows = 0, cols = 0;
    mlp::read_idx_images(path, rows, cols);
  } catch (const mlp::Error&) {
  }
  try {
    mlp::read_idx_labels(path, 10);
  } catch (const mlp::Error&) {
  }
  return 0;
}
