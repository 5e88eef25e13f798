// A layer's configuration as text entries (name -> value): what a model file stores so that the
// layer can be rebuilt, e.g. Linear {in_features: 784, out_features: 256, bias: 1}. Numbers are
// written exactly (17 significant digits) and read back with range checks, because a file is
// untrusted input: a value out of range, or not a complete number, is an InvalidArgument naming it.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/shape.hpp"
#include "mlp/core/text_format.hpp"
#include "mlp/core/types.hpp"

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlp {

class LayerConfig {
 public:
  LayerConfig& set(const std::string& key, const std::string& value) {
    detail::require(!key.empty() && key != "kind", "a layer configuration key cannot be '", key, "'");
    entries_[key] = value;
    return *this;
  }
  LayerConfig& set(const std::string& key, const char* value) { return set(key, std::string(value)); }
  LayerConfig& set(const std::string& key, Index value) { return set(key, std::to_string(value)); }
  LayerConfig& set(const std::string& key, int value) { return set(key, static_cast<Index>(value)); }
  LayerConfig& set(const std::string& key, double value) { return set(key, detail::exact(value)); }
  LayerConfig& set(const std::string& key, bool value) { return set(key, std::string(value ? "1" : "0")); }

  bool has(const std::string& key) const { return entries_.count(key) != 0; }

  const std::string& text(const std::string& key) const {
    const auto it = entries_.find(key);
    detail::require(it != entries_.end(), "the layer configuration has no '", key, "'");
    return it->second;
  }
  // An integer in [min, max].
  Index integer(const std::string& key, Index min, Index max) const {
    std::int64_t v = 0;
    detail::require(detail::parse_int64(text(key), v) && v >= min && v <= max, "layer configuration '",
                    key, "' has to be an integer from ", min, " to ", max, ", but is '", text(key), "'");
    return static_cast<Index>(v);
  }
  // A finite number in [min, max].
  double real(const std::string& key, double min, double max) const {
    double v = 0.0;
    detail::require(detail::parse_double(text(key), v) && std::isfinite(v) && v >= min && v <= max,
                    "layer configuration '", key, "' has to be a number from ", min, " to ", max,
                    ", but is '", text(key), "'");
    return v;
  }
  bool boolean(const std::string& key) const {
    const std::string& v = text(key);
    detail::require(v == "0" || v == "1", "layer configuration '", key, "' has to be 0 or 1, but is '", v, "'");
    return v == "1";
  }

  const std::map<std::string, std::string>& entries() const { return entries_; }
  bool operator==(const LayerConfig& o) const { return entries_ == o.entries_; }
  bool operator!=(const LayerConfig& o) const { return !(*this == o); }

 private:
  std::map<std::string, std::string> entries_;
};

// The name and shape of one tensor a layer will hold, known from its configuration alone: lets a
// loader compare a file's tensors with what its layer list implies before allocating anything.
struct StateShape {
  std::string name;  // "weight", "running_mean", ...
  Index rows = 0, cols = 0;
};

// Sizes read from a configuration: large enough for any real layer, small enough that products of
// two of them cannot overflow.
inline constexpr Index kMaxLayerSize = Index{1} << 24;
// Values of one sample at any layer's input or output (1 GiB of floats): a larger one is a wrong
// configuration (a padding of 100000), refused when built rather than failing to allocate later.
inline constexpr Index kMaxSampleValues = kMaxLayerSize * 16;

// Whether every dimension of `s` is positive and it holds at most kMaxSampleValues values, checked
// without multiplying out (Shape::size() of dimensions near 2^24 each wraps, to 0 or below).
inline bool within_sample_limit(const Shape& s) {
  return s.valid() && s.channels <= kMaxSampleValues && s.height <= kMaxSampleValues / s.channels &&
         s.width <= kMaxSampleValues / (s.channels * s.height);
}

}  // namespace mlp
