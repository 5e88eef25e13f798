// Exact text forms of numbers for files that must round-trip (model specs, checkpoints): doubles
// with 17 significant digits read back to the same bits.
#pragma once

#include "mlp/core/errors.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

namespace mlp::detail {

inline std::string exact(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

// The shortest decimal form that reads back to the same double ("0.1", not "0.10000000000000001"):
// for logs people read that must still agree with the binary values.
inline std::string shortest(double v) {
  char text[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v || std::isnan(v)) return text;
  }
  return text;
}

// A number for messages: "nan" whatever the NaN's sign bit, "inf", "-inf", else the value.
inline std::string number_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return concat(v);
}

// Whether `text` starts the way mlp writes numbers. strtod and strtoll also skip leading spaces and
// take a '+', and strtod reads hexadecimal ("0x1p-2"): none of which mlp writes, so a file holding
// them was edited, and a field that should be "a whole number" would take " 42" or "+42".
inline bool plain_number_text(const std::string& text) {
  return !text.empty() && text[0] != '+' && std::isspace(static_cast<unsigned char>(text[0])) == 0 &&
         text.find_first_of("xX") == std::string::npos;
}

// Parsers return false on anything but a complete, valid number, written as mlp writes numbers; the
// integer parsers also on a value out of their type's range (strtoll would give the largest).
inline bool parse_double(const std::string& text, double& out) {
  if (!plain_number_text(text)) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

inline bool parse_int64(const std::string& text, std::int64_t& out) {
  if (!plain_number_text(text)) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || end != text.c_str() + text.size()) return false;
  out = v;
  return true;
}

inline bool parse_uint64(const std::string& text, std::uint64_t& out) {
  if (!plain_number_text(text) || text[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno == ERANGE || end != text.c_str() + text.size()) return false;
  out = v;
  return true;
}

template <class T>
std::string join(const std::vector<T>& items, const char* separator = ",") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    if constexpr (std::is_same_v<T, std::string>) {
      out += items[i];
    } else if constexpr (std::is_floating_point_v<T>) {
      out += exact(static_cast<double>(items[i]));
    } else {
      out += std::to_string(items[i]);
    }
  }
  return out;
}

inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

}  // namespace mlp::detail
