// What every example program shares: error handling at the top level (a one-line message and an
// exit status, never a stack trace) and parsing of list-valued flags.
#pragma once

#include <mlp/core/errors.hpp>
#include <mlp/core/precision.hpp>
#include <mlp/core/types.hpp>

#include <cxxopts.hpp>

#include <cctype>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cli {

// Exit statuses: 0 success, 1 failure while running, 2 bad flags or unusable input files.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// Runs the program body; turns every escaping exception into "<program>: error: <what>".
template <class Body>
int run(const char* program, Body&& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    const std::string what = one_line(e.what());  // (a message that names its own "(see --list)" keeps it alone)
    std::cerr << program << ": error: " << what << (what.find("(see --") == std::string::npos ? " (see --help)" : "") << "\n";
    return kExitUsage;
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << program << ": error: " << one_line(e.what()) << " (see --help)\n";
    return kExitUsage;
  } catch (const mlp::InvalidArgument& e) {
    std::cerr << program << ": error: " << one_line(e.what()) << "\n";
    return kExitUsage;
  } catch (const mlp::IoError& e) {
    std::cerr << program << ": error: " << one_line(e.what()) << "\n";
    return kExitUsage;
  } catch (const std::bad_alloc&) {  // ("error: std::bad_alloc" did not say what had happened)
    std::cerr << program << ": error: out of memory: the model, batch or data set needs more memory than this "
              << "machine gives the program\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << one_line(e.what()) << "\n";
    return kExitFailure;
  }
}

// Whether `text` is a whole integer as std::stoll reads it (value set then); false for "", "x", "1x"
// or one out of long long's range.
inline bool whole_integer(const std::string& text, long long& value) {
  std::size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  return !text.empty() && used == text.size();
}

// "256,128" -> {256, 128}; "" or "none" -> {}. Every entry must be an integer from 1 to 2^20.
inline std::vector<mlp::Index> parse_sizes(const std::string& text, const std::string& flag) {
  std::vector<mlp::Index> sizes;
  if (text.empty() || text == "none") return sizes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    long long value = 0;
    if (!whole_integer(item, value) || value <= 0 || value > (1 << 20)) {
      throw UsageError("--" + flag + " expects integers from 1 to 1048576 separated by commas, but got '" +
                       text + "'");
    }
    sizes.push_back(static_cast<mlp::Index>(value));
  }
  return sizes;
}

// A text flag without a default value in cxxopts, "" when not given: its help text says what that
// means, and cxxopts would add a second "(default: "")" to it.
inline std::string text_flag(const cxxopts::ParseResult& flags, const std::string& name) {
  return flags.count(name) > 0 ? flags[name].as<std::string>() : std::string();
}

// Numeric flags are declared as strings and converted here, so a bad value gets a message that
// names the flag and the allowed range: "--epochs has to be an integer from 1 to 100000, but got 'x'".
inline long long int_flag(const cxxopts::ParseResult& flags, const std::string& name,
                          long long min, long long max) {
  const std::string text = flags[name].as<std::string>();
  long long value = 0;
  if (!whole_integer(text, value) || value < min || value > max) {
    throw UsageError("--" + name + " has to be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", but got '" + text + "'");
  }
  return value;
}

inline double real_flag(const cxxopts::ParseResult& flags, const std::string& name, double min,
                        double max) {
  const std::string text = flags[name].as<std::string>();
  std::size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  // decimal only: std::stod also reads hexadecimal ("0x10" was a learning rate of 16) and "infinity"
  const bool decimal = text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (text.empty() || !decimal || used != text.size() || !(value >= min && value <= max)) {
    std::ostringstream range;
    range << min << " to " << max;
    throw UsageError("--" + name + " has to be a number from " + range.str() + ", but got '" +
                     text + "'");
  }
  return value;
}

// A --precision value ("fp32" or "bf16"); an unknown one is a usage error that names the flag.
inline mlp::MatmulPrecision precision_flag(const std::string& text, const std::string& flag = "precision") {
  try {
    return mlp::parse_matmul_precision(text);
  } catch (const mlp::InvalidArgument& e) {
    throw UsageError("--" + flag + ": " + e.what());
  }
}

// The machine's cores (at least 1). Not the process's CPU affinity (taskset, a container's cpuset):
// more threads than that only run slower, with the same results, and the Trainer's thread governor
// then takes fewer.
inline long long machine_cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<long long>(n);
}

// A list of thread counts to measure ("1,2"): at least one, each from 1 to the machine's cores (more
// threads than cores only measure threads waiting for each other). When the list is the flag's
// default (`given` false), counts above the cores are left out with a note instead, so that the
// defaults run on a 1-core machine.
inline std::vector<mlp::Index> parse_thread_counts(const std::string& text, const std::string& flag, bool given) {
  const long long cores = machine_cores();
  std::vector<mlp::Index> counts;
  std::stringstream in(text);
  std::string item;
  bool ok = !text.empty() && text.back() != ',';
  while (ok && std::getline(in, item, ',')) {
    long long value = 0;
    ok = whole_integer(item, value) && std::isdigit(static_cast<unsigned char>(item[0])) && value >= 1 &&
         (value <= cores || !given);
    if (value <= cores) {
      counts.push_back(static_cast<mlp::Index>(value));
    } else if (ok) {
      std::fprintf(stderr, "note: --%s %lld left out: this machine has %lld core%s\n", flag.c_str(), value, cores,
                   cores == 1 ? "" : "s");
    }
  }
  if (!ok || counts.empty()) {
    throw UsageError("--" + flag + " expects thread counts from 1 to " + std::to_string(cores) +
                     " (this machine's cores) separated by commas, but got '" + text + "'");
  }
  return counts;
}

// Refuses what cxxopts accepts but a user cannot have meant: a positional argument nobody asked for
// ("train 30" instead of "train --epochs 30"), or a flag given twice (cxxopts keeps the last value,
// so `--epochs 5 ... --epochs 50` would silently train 50 epochs).
inline void reject_stray_or_repeated(const cxxopts::ParseResult& result) {
  if (!result.unmatched().empty()) {
    throw UsageError("unexpected argument '" + result.unmatched().front() + "'");
  }
  const std::vector<cxxopts::KeyValue>& given = result.arguments();
  for (std::size_t i = 0; i < given.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (given[j].key() != given[i].key()) continue;
      const std::string values =
          given[j].value() == given[i].value() ? "" : " ('" + given[j].value() + "' and '" + given[i].value() + "')";
      throw UsageError("--" + given[i].key() + " is given twice" + values + ": give it once");
    }
  }
}

// The flags of argv, checked by reject_stray_or_repeated; none after printing the help for --help
// (the groups given, or all), when the program has nothing more to do.
inline std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, int argc, char** argv,
                                                       const std::vector<std::string>& help_groups = {}) {
  auto flags = options.parse(argc, argv);
  if (flags.count("help")) {
    std::cout << options.help(help_groups) << "\n";
    return std::nullopt;
  }
  reject_stray_or_repeated(flags);
  return flags;
}

}  // namespace cli
