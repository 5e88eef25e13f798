// The JSON parser, and the readers of run configurations and summaries built on it.
#include <mlp/io/json.hpp>
#include <mlp/train/run.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const mlp::Json j = mlp::Json::parse(text);
    const std::string again = j.dump(2);
    if (mlp::Json::parse(again) != j) __builtin_trap();  // writing and reading must round-trip
    if (j.is_object()) {
      try {
        mlp::RunConfig::from_json(j);
      } catch (const mlp::Error&) {
      }
      try {
        mlp::detail::eval_from_json(j);
      } catch (const mlp::Error&) {
      }
      try {
        mlp::detail::epoch_from_json(j);
      } catch (const mlp::Error&) {
      }
    }
  } catch (const mlp::Error&) {
  }
  return 0;
}
