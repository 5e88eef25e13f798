// The training-checkpoint loader on arbitrary bytes, for a fixed small setup; a successfully
// resumed trainer then trains one more epoch.
#include "fuzz_common.hpp"
#include "fuzz_setup.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = fuzz::container_input(data, size);
  const std::string& path = fuzz::write_scratch("checkpoint", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  fuzz::TinySetup setup;
  try {
    setup.trainer.resume(path);
    setup.trainer.fit(setup.loader, &setup.loader, setup.trainer.epochs_done() + 1);
  } catch (const mlp::Error&) {
  }
  return 0;
}
