// The JSON parser, and the readers of run configurations and summaries built on it.
#include <mlp_app/json.hpp>
#include <mlp_app/run.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const mlp::app::Json j = mlp::app::Json::parse(text);
    const std::string again = j.dump(2);
    if (mlp::app::Json::parse(again) != j) __builtin_trap();  // writing and reading must round-trip
    if (j.is_object()) {
      try {
        mlp::app::RunConfig::from_json(j);
      } catch (const mlp::Error&) {
      }
      try {
        mlp::app::internal::eval_from_json(j);
      } catch (const mlp::Error&) {
      }
      try {
        mlp::app::internal::epoch_from_json(j);
      } catch (const mlp::Error&) {
      }
    }
  } catch (const mlp::Error&) {
  }
  return 0;
}
