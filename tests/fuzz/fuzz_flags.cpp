// The `train` program's flag parsing: the input, split at newlines, is its command line.
#include "common/train_flags.hpp"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args = {"train"};
  std::string current;
  for (std::size_t i = 0; i < size && args.size() < 64; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) args.push_back(current);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  try {
    auto options = cli::train_options();
    const auto flags = options.parse(static_cast<int>(argv.size()), argv.data());
    cli::reject_stray_or_repeated(flags);
    cli::config_from_flags(flags);
    cli::threads_from_flags(flags);
  } catch (const cli::UsageError&) {
  } catch (const cxxopts::exceptions::exception&) {
  } catch (const mlp::Error&) {
  }
  return 0;
}
