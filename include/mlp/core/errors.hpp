// Exceptions thrown by the library. Every message names the bad value (and the file, for I/O), so
// the person reading it can act without a debugger: "dropout probability has to be in [0, 1), but
// got 1.5".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mlp {

// Base class of everything the library throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A caller passed an argument outside its domain (bad size, probability, shape...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file could not be opened, read or written, or its content is malformed.
class IoError : public Error {
 public:
  using Error::Error;
};

// Training produced a non-finite value or was used out of order.
class RuntimeError : public Error {
 public:
  using Error::Error;
};

namespace detail {

// Streams every argument into one string: concat("got ", 1.5, " for p").
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  out.precision(9);
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <class E = InvalidArgument, class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw E(concat(std::forward<Args>(args)...));
}

// Checks a caller-supplied condition; throws E with the message built from args when false.
template <class E = InvalidArgument, class... Args>
void require(bool condition, Args&&... args) {
  if (!condition) fail<E>(std::forward<Args>(args)...);
}

}  // namespace detail

// "3 x 128": how shapes appear in messages.
inline std::string shape_string(long long rows, long long cols) {
  return detail::concat(rows, " x ", cols);
}

}  // namespace mlp
