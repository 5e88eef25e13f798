// A model architecture as one line of text, for the programs' --arch flag and run configurations:
// comma-separated blocks, in order, then a Linear to the class logits is appended.
//   conv<C>[k<K>][bn]  Conv2d(prev, C, K x K, stride 1, padding K/2; K = 3 by default)
//                      [-> BatchNorm2d] -> activation
//   pool[<K>]          MaxPool2d(K), K = 2 by default (stride K)
//   avgpool[<K>]       AvgPool2d(K)
//   fc<N>[bn]          Linear(prev, N) [-> BatchNorm1d] -> activation  (a Flatten is put before the
//                      first fc that follows an image-shaped output)
//   drop<P>            Dropout(P)
// e.g. "conv32bn,pool,conv64bn,pool,fc128" is the study's CNN; "fc256,fc128" is the baseline MLP.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/shape.hpp"
#include "mlp/core/text_format.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace mlp::app {

struct ArchBlock {
  enum class Kind { Conv, MaxPool, AvgPool, Dense, Dropout };
  Kind kind = Kind::Dense;
  Index size = 0;       // channels (conv), units (fc), kernel (pools)
  Index kernel = 3;     // conv kernel
  bool batch_norm = false;
  double p = 0.0;       // dropout
};

namespace internal {

// The integer of a block such as "conv32" after its prefix; false unless it is one in [1, max].
inline bool read_count(const std::string& text, std::size_t& at, Index max, Index& out) {
  std::size_t end = at;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  std::size_t first = at;  // (leading zeros counted towards the 9 digits: fc0000000032 was "out of range")
  while (end - first > 1 && text[first] == '0') ++first;
  std::int64_t v = 0;
  if (end == at || end - first > 9 || !detail::parse_int64(text.substr(first, end - first), v) || v < 1 || v > max) {
    return false;
  }
  out = static_cast<Index>(v);
  at = end;
  return true;
}

inline bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

inline ArchBlock parse_block(const std::string& token) {
  auto bad = [&](const char* why) -> ArchBlock {
    detail::fail("architecture block '", token, "' ", why,
                 " (expected conv<C>[k<K>][bn], pool[<K>], avgpool[<K>], fc<N>[bn] or drop<P>, e.g. "
                 "conv32bn,pool,fc128)");
  };
  ArchBlock b;
  std::size_t at = 0;
  if (starts_with(token, "drop")) {
    b.kind = ArchBlock::Kind::Dropout;
    if (!detail::parse_double(token.substr(4), b.p) || !(b.p > 0.0 && b.p < 1.0)) return bad("needs a probability in (0, 1)");
    return b;
  }
  if (starts_with(token, "avgpool") || starts_with(token, "pool")) {
    b.kind = starts_with(token, "avgpool") ? ArchBlock::Kind::AvgPool : ArchBlock::Kind::MaxPool;
    at = b.kind == ArchBlock::Kind::AvgPool ? 7 : 4;
    b.size = 2;
    if (at < token.size() && !read_count(token, at, 64, b.size)) return bad("needs a kernel size from 1 to 64");
  } else if (starts_with(token, "conv") || starts_with(token, "fc")) {
    b.kind = starts_with(token, "conv") ? ArchBlock::Kind::Conv : ArchBlock::Kind::Dense;
    at = b.kind == ArchBlock::Kind::Conv ? 4 : 2;
    if (!read_count(token, at, 1 << 16, b.size)) return bad("needs a size from 1 to 65536");
    if (b.kind == ArchBlock::Kind::Conv && at < token.size() && token[at] == 'k') {
      ++at;
      if (!read_count(token, at, 31, b.kernel) || b.kernel % 2 == 0) return bad("needs an odd kernel size from 1 to 31");
    }
    if (token.compare(at, std::string::npos, "bn") == 0) b.batch_norm = true, at += 2;
  } else {
    return bad("is unknown");
  }
  if (at != token.size()) return bad("has unexpected characters");
  return b;
}

}  // namespace internal

// Parses "conv32bn,pool,fc128"; an InvalidArgument names the bad block.
inline std::vector<ArchBlock> parse_architecture(const std::string& text) {
  std::vector<ArchBlock> blocks;
  bool dense = false;
  for (const auto& token : detail::split(text, ',')) {
    blocks.push_back(internal::parse_block(token));
    const auto kind = blocks.back().kind;
    detail::require(!dense || kind == ArchBlock::Kind::Dense || kind == ArchBlock::Kind::Dropout, "architecture block '",
                    token, "' follows an fc block: conv and pool blocks come before the fc ones");
    dense = dense || kind == ArchBlock::Kind::Dense;
  }
  detail::require(!blocks.empty(), "an architecture needs at least one block, e.g. conv32bn,pool,fc128");
  return blocks;
}

// The blocks of an MLP with these hidden widths (what --hidden describes).
inline std::vector<ArchBlock> mlp_blocks(const std::vector<Index>& hidden, bool batch_norm, double dropout) {
  std::vector<ArchBlock> blocks;
  for (const Index h : hidden) {
    ArchBlock b;
    b.kind = ArchBlock::Kind::Dense;
    b.size = h;
    b.batch_norm = batch_norm;
    blocks.push_back(b);
    if (dropout > 0.0) {
      ArchBlock d;
      d.kind = ArchBlock::Kind::Dropout;
      d.p = dropout;
      blocks.push_back(d);
    }
  }
  return blocks;
}

// The batch size of the programs' evaluations (validation, test, the evaluate program).
inline constexpr Index kEvaluationBatch = 1000;

// What training a model of these blocks takes, estimated without building it: parameters, and
// floats of memory per batch sample (each layer's output, gradient and cache: about 4 per value)
// plus 4 per parameter (weight, gradient, Adam's two moments). Evaluation batches of
// kEvaluationBatch grow the forward buffers (about 2 per output value) while the training ones stay:
// a model that passed the check at batch size 2 crashed at its first validation. A convolution's
// patches (im2col) are lowered a chunk of at most 16 samples per thread at a time, never for the
// whole batch. Throws for blocks that cannot follow each other (a pool larger than the image).
struct ArchEstimate {
  static constexpr Index kLoweredSamples = 16;  // Conv2d's largest chunk
  double parameters = 0.0;
  double floats_per_sample = 0.0;        // outputs (and their gradients and caches in training)
  double patch_floats_per_sample = 0.0;  // the largest convolution's patches and product, per sample
  double training_bytes(Index batch, int threads) const {
    const double lowered = static_cast<double>(std::min(std::max(batch, kEvaluationBatch), kLoweredSamples));
    return 4.0 * (4.0 * parameters +
                  floats_per_sample * (4.0 * static_cast<double>(batch) + 2.0 * static_cast<double>(kEvaluationBatch)) +
                  patch_floats_per_sample * lowered * static_cast<double>(std::max(threads, 1)));
  }
};

inline ArchEstimate estimate_architecture(const std::vector<ArchBlock>& blocks, const Shape& input, Index classes) {
  ArchEstimate e;
  Shape s = input;
  // (a Shape of C x 1 x 1 is also one of C features: whether it is an image depends on the blocks
  // before it. A conv after a pool as large as the image was refused as "after a feature vector",
  // though Conv2d takes a 1 x 1 image)
  bool image = !input.is_flat();
  auto values = [&](const Shape& x) { e.floats_per_sample += static_cast<double>(x.size()); };
  for (const ArchBlock& b : blocks) {
    switch (b.kind) {
      case ArchBlock::Kind::Conv:
        detail::require(image, "a conv block needs an image, but the model's input is a vector of ", s.str(),
                        " features");
        e.parameters += static_cast<double>(s.channels * b.size * b.kernel * b.kernel + b.size);
        e.patch_floats_per_sample = std::max(e.patch_floats_per_sample,
                                             static_cast<double>((s.channels * b.kernel * b.kernel + b.size) * s.pixels()));
        s = Shape(b.size, s.height, s.width);
        values(s);
        break;
      case ArchBlock::Kind::MaxPool:
      case ArchBlock::Kind::AvgPool:
        // (a C x 1 x 1 image is a Shape of C features: "an image of 1" read as a size, not a shape)
        detail::require(s.height >= b.size && s.width >= b.size, "a pool of ", b.size, " x ", b.size,
                        " does not fit an image of ", s.channels, " x ", s.height, " x ", s.width);
        s = Shape(s.channels, s.height / b.size, s.width / b.size);
        values(s);
        break;
      case ArchBlock::Kind::Dense:
        image = false;
        e.parameters += static_cast<double>(s.size() * b.size + b.size);
        s = Shape::flat(b.size);
        values(s);
        break;
      case ArchBlock::Kind::Dropout: values(s); break;
    }
    if (b.batch_norm) e.parameters += 2.0 * static_cast<double>(s.channels), values(s);
  }
  e.parameters += static_cast<double>(s.size() * classes + classes);
  values(Shape::flat(classes));
  return e;
}

}  // namespace mlp::app
