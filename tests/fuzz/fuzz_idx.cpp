// The IDX reader on arbitrary bytes (raw, or gzip when the input starts with its magic), then on
// the same bytes inside a valid gzip stream, whole and with its end cut off: random bytes rarely
// form a deflate stream, and these reach the inflate path, its trailer checks and the readers
// behind it.
#include "fuzz_common.hpp"

#include <mlp/data/idx.hpp>

#include <algorithm>

namespace {

void read_both(const std::string& path) {
  try {
    mlp::Index rows = 0, cols = 0;
    mlp::read_idx_images(path, rows, cols);
  } catch (const mlp::Error&) {
  }
  try {
    mlp::read_idx_labels(path, 10);
  } catch (const mlp::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  read_both(fuzz::write_scratch("idx", data, size));
  const mlp_test::Bytes gz = mlp_test::gzip(data, size);
  read_both(fuzz::write_scratch("idx", gz.data(), gz.size()));
  const std::size_t cut = std::min(gz.size(), 1 + size % 12);  // into the 8-byte trailer or before
  read_both(fuzz::write_scratch("idx", gz.data(), gz.size() - cut));
  return 0;
}
