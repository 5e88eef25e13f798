// Pixel preprocessing, kept apart from parsing:  x = (p / 255 - mean_c) / std_c  per channel c.
//
// The statistics are fitted on the TRAINING samples only and then applied unchanged to validation
// and test data, so nothing about the held-out data leaks into training. `unit_range` is the plain
// p / 255 scaling (mean 0, std 1).
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mlp {

struct Standardizer {
  Index pixels_per_channel = 0;  // values per channel in a sample (height * width)
  std::vector<double> mean;      // per channel, of p / 255
  std::vector<double> stddev;    // per channel, of p / 255 (population standard deviation)

  Index channels() const { return static_cast<Index>(mean.size()); }

  // p / 255 without centring: mean 0, std 1 for every channel.
  static Standardizer unit_range(const ImageShape& shape) {
    return {shape.pixels_per_channel(), std::vector<double>(static_cast<std::size_t>(shape.channels), 0.0),
            std::vector<double>(static_cast<std::size_t>(shape.channels), 1.0)};
  }

  // Mean and standard deviation of p / 255 over the samples `indices` of `data`, per channel or
  // over all channels at once (the same values then repeated per channel). Integer sums make the
  // statistics exact whatever the order.
  static Standardizer fit(const Dataset& data, const std::vector<Index>& indices,
                          bool per_channel) {
    detail::require(!indices.empty(), "Standardizer::fit needs at least one sample of ", data.name);
    data.validate();  // (a shape that does not fit the images read past them)
    const Index channels = data.shape.channels;
    const Index ppc = data.shape.pixels_per_channel();
    std::vector<std::uint64_t> sum(static_cast<std::size_t>(channels), 0);
    std::vector<std::uint64_t> squares(static_cast<std::size_t>(channels), 0);
    for (Index i : indices) {
      detail::require(i >= 0 && i < data.size(), "Standardizer::fit: sample index ", i,
                      " is out of range for ", data.size(), " samples");
      const std::uint8_t* p = data.pixels.col(i).data();
      for (Index c = 0; c < channels; ++c) {
        std::uint64_t s = 0, q = 0;
        for (Index k = 0; k < ppc; ++k, ++p) {
          s += *p;
          q += std::uint64_t{*p} * *p;
        }
        sum[static_cast<std::size_t>(c)] += s;
        squares[static_cast<std::size_t>(c)] += q;
      }
    }
    Standardizer st;
    st.pixels_per_channel = ppc;
    auto stats = [&](std::uint64_t s, std::uint64_t q, double count) {
      const double m = static_cast<double>(s) / count;
      const double var = static_cast<double>(q) / count - m * m;
      st.mean.push_back(m / 255.0);
      st.stddev.push_back(std::sqrt(std::max(var, 0.0)) / 255.0);
    };
    const double per_channel_count = static_cast<double>(indices.size()) * static_cast<double>(ppc);
    if (per_channel) {
      for (std::size_t c = 0; c < sum.size(); ++c) stats(sum[c], squares[c], per_channel_count);
    } else {
      std::uint64_t s = 0, q = 0;
      for (std::size_t c = 0; c < sum.size(); ++c) s += sum[c], q += squares[c];
      stats(s, q, per_channel_count * static_cast<double>(channels));
      st.mean.resize(sum.size(), st.mean[0]);
      st.stddev.resize(sum.size(), st.stddev[0]);
    }
    for (std::size_t c = 0; c < st.stddev.size(); ++c) {
      detail::require(st.stddev[c] > 0.0, data.name, ": ", per_channel ? detail::concat("channel ", c, " has") : std::string("the images have"),
                      " the same value (", st.mean[c] * 255.0, ") in every pixel of the ", indices.size(),
                      " samples fitted on, so it cannot be standardized (standard deviation 0)");
    }
    st.validate();
    return st;
  }

  void validate() const {
    detail::require(!mean.empty() && mean.size() == stddev.size() && pixels_per_channel > 0,
                    "Standardizer needs one mean and one standard deviation per channel, got ",
                    mean.size(), " and ", stddev.size());
    for (std::size_t c = 0; c < stddev.size(); ++c) {
      detail::require(std::isfinite(mean[c]) && std::isfinite(stddev[c]) && stddev[c] > 0.0,
                      "Standardizer channel ", c, " has mean ", mean[c], " and standard deviation ",
                      stddev[c], " (both have to be finite, the standard deviation positive)");
    }
  }

  // The transformed value of every byte for every channel: table[c * 256 + p]. Computed in double,
  // rounded once, so converting a batch is one table lookup per pixel.
  template <class S>
  std::vector<S> lookup_table() const {
    validate();
    std::vector<S> table(mean.size() * 256);
    for (std::size_t c = 0; c < mean.size(); ++c) {
      for (int p = 0; p < 256; ++p) {
        table[c * 256 + static_cast<std::size_t>(p)] =
            static_cast<S>((p / 255.0 - mean[c]) / stddev[c]);
      }
      // (a standard deviation of 1e-40, or a mean of 1e300, made every input -inf without a word)
      const auto first = table.begin() + static_cast<std::ptrdiff_t>(c * 256);
      detail::require(std::all_of(first, first + 256, [](S v) { return std::isfinite(v); }), "Standardizer channel ", c,
                      " (mean ", mean[c], ", standard deviation ", stddev[c], ") maps pixel values outside the range of ",
                      sizeof(S) == sizeof(float) ? "float" : "the model's type");
    }
    return table;
  }
};

}  // namespace mlp
