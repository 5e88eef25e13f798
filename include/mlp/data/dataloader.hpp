// Mini-batches of columns, reshuffled every epoch.
//
// The order of epoch e is a pure function of (seed, e): a permutation drawn with
// derive_seed(seed, "shuffle", e). So epoch 7 has the same batches whether training ran straight
// through or resumed from a checkpoint, and no generator state needs saving. Image data stays 8-bit
// and is converted batch by batch through the Standardizer's lookup table into a buffer that is
// sized once: iterating allocates nothing after the first batch.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/random.hpp"
#include "mlp/core/versioned_matrix.hpp"
#include "mlp/data/dataset.hpp"
#include "mlp/data/transforms.hpp"
#include "mlp/detail/byte_lookup.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/prefetch.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <vector>

namespace mlp {

struct LoaderOptions {
  Index batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop a last partial batch instead of yielding it
  std::uint64_t seed = 0;
};

// A view of one batch; valid until the loader's next call to next() or start_epoch().
template <class S = float>
struct Batch {
  Eigen::Map<const Matrix<S>> x;  // features x size
  Eigen::Map<const Labels> y;     // size
  Index index;                    // position of the batch within its epoch
  // x as the loader's own matrix with the loader's version of it, when x is all of that matrix (a
  // full batch), else empty: Sequential::forward(source, mode) keeps the batch for backward
  // instead of copying it (the Trainer does), and backward after the loader's next batch is refused.
  VersionedMatrix<S> source{};
  Index size() const { return x.cols(); }
};

template <class S = float>
class DataLoader {
 public:
  // Samples `indices` of an image data set, converted with `standardizer`. The data set must
  // outlive the loader.
  DataLoader(const Dataset& data, std::vector<Index> indices, const Standardizer& standardizer,
             LoaderOptions options)
      : pixels_(&data.pixels), labels_(&data.labels), indices_(std::move(indices)),
        options_(options) {
    // (a data set of 1568 values per image with a 1 x 28 x 28 shape was read past its tables, and
    // fewer labels than images past the labels)
    data.validate();
    detail::require(standardizer.channels() == data.shape.channels &&
                        standardizer.pixels_per_channel == data.shape.pixels_per_channel(),
                    "DataLoader: the standardizer is for ", standardizer.channels(),
                    " channels of ", standardizer.pixels_per_channel, " pixels but ", data.name,
                    " has ", data.shape.channels, " of ", data.shape.pixels_per_channel());
    table_ = standardizer.lookup_table<S>();
    pixels_per_channel_ = standardizer.pixels_per_channel;
    init(data.size());
  }

  // The loader keeps a pointer to the data set: a temporary would dangle.
  DataLoader(Dataset&&, std::vector<Index>, const Standardizer&, LoaderOptions) = delete;

  // All columns of an in-memory float matrix (features x N). x and y must outlive the loader.
  DataLoader(const Matrix<S>& x, const Labels& y, LoaderOptions options)
      : dense_(&x), labels_(&y), options_(options) {
    detail::require(x.cols() == y.size(), "DataLoader: ", x.cols(), " samples but ", y.size(),
                    " labels");
    indices_.resize(static_cast<std::size_t>(x.cols()));
    std::iota(indices_.begin(), indices_.end(), Index{0});
    init(x.cols());
  }
  DataLoader(Matrix<S>&&, const Labels&, LoaderOptions) = delete;  // would dangle
  DataLoader(const Matrix<S>&, Labels&&, LoaderOptions) = delete;
  DataLoader(Matrix<S>&&, Labels&&, LoaderOptions) = delete;

  // Fixes the order of epoch `epoch` and rewinds to its first batch.
  void start_epoch(std::int64_t epoch) {
    order_ = indices_;
    if (options_.shuffle) {
      Rng rng(derive_seed(options_.seed, "shuffle", static_cast<std::uint64_t>(epoch)));
      shuffle(order_, rng);
    }
    position_ = 0;
    batch_index_ = 0;
    epoch_ = epoch;
    ++version_;
  }

  // Skips the first `batches` batches of the epoch (resuming in the middle of an epoch).
  void skip_batches(Index batches) {
    detail::require(batches >= 0 && batches <= batches_per_epoch(), "skip_batches needs a count from 0 to ",
                    batches_per_epoch(), " (the batches of an epoch), but got ", batches);
    position_ = std::min(size(), batches * options_.batch_size);
    batch_index_ = batches;
  }

  // The next batch of the epoch, or nothing at its end.
  std::optional<Batch<S>> next() {
    check_source_unchanged();
    const Index remaining = size() - position_;
    const Index take = std::min(options_.batch_size, remaining);
    if (take == 0 || (options_.drop_last && take < options_.batch_size)) return std::nullopt;
    const Index* order = order_.data() + position_;
    ++version_;  // x_ changes: a batch kept from before is not this one
    // Whole columns on the library's threads: each is a copy of table entries or of a column, the
    // same bits on any thread.
    detail::for_each_column_range(x_.rows(), take, [&](Index begin, Index end) {
      for (Index j = begin; j < end; ++j) {
        if (j + kPrefetchColumns < end) {
          Index bytes = 0;
          const char* ahead = column_bytes(order[j + kPrefetchColumns], bytes);
          detail::prefetch_lines<false>(ahead, bytes);
        }
        fill_column(j, order[j]);
        y_[j] = (*labels_)[order[j]];
      }
    });
    position_ += take;
    const VersionedMatrix<S> source =
        take == x_.cols() ? VersionedMatrix<S>{&x_, &version_, version_} : VersionedMatrix<S>{};
    return Batch<S>{{x_.data(), x_.rows(), take}, {y_.data(), take}, batch_index_++, source};
  }

  Index size() const { return static_cast<Index>(indices_.size()); }  // samples per epoch
  Index features() const { return x_.rows(); }
  Index batches_per_epoch() const {
    const Index full = size() / options_.batch_size;
    return options_.drop_last || size() % options_.batch_size == 0 ? full : full + 1;
  }
  const LoaderOptions& options() const { return options_; }
  const std::vector<Index>& indices() const { return indices_; }
  // Where the loader is: the epoch of its order and the index of the batch next() gives next.
  std::int64_t epoch() const { return epoch_; }
  Index next_batch_index() const { return batch_index_; }
  // Moves on at every next() and start_epoch(): the Trainer tells by it that a callback used the loader.
  std::uint64_t changes() const { return version_; }

 private:
  void init(Index available) {
    detail::require(options_.batch_size > 0, "batch size has to be positive, but got ",
                    options_.batch_size);
    for (Index i : indices_) {
      detail::require(i >= 0 && i < available, "DataLoader: sample index ", i,
                      " is out of range for ", available, " samples");
    }
    const Index rows = dense_ != nullptr ? dense_->rows() : pixels_->rows();
    source_cols_ = available;
    source_labels_ = labels_->size();
    x_.resize(rows, std::min(options_.batch_size, std::max<Index>(size(), 1)));
    y_.resize(x_.cols());
    order_.reserve(indices_.size());
    start_epoch(0);
  }

  // The loader reads its source in place: a source resized since (its storage moved) would be read
  // out of bounds.
  void check_source_unchanged() const {
    const Index rows = dense_ != nullptr ? dense_->rows() : pixels_->rows();
    const Index cols = dense_ != nullptr ? dense_->cols() : pixels_->cols();
    detail::require<RuntimeError>(rows == x_.rows() && cols == source_cols_ && labels_->size() == source_labels_,
                                  "DataLoader: its data changed size after the loader was made (", x_.rows(), " x ",
                                  source_cols_, " with ", source_labels_, " labels then, ", rows, " x ", cols, " with ",
                                  labels_->size(), " labels now); make a new loader");
  }

  // Samples are read in shuffled order, each column a jump in a data set larger than the caches: the
  // hardware prefetchers only start within a column, so the next columns' lines are asked for early.
  static constexpr Index kPrefetchColumns = 2;
  const char* column_bytes(Index sample, Index& bytes) const {
    if (dense_ != nullptr) {
      bytes = x_.rows() * Index{sizeof(S)};
      return reinterpret_cast<const char*>(dense_->col(sample).data());
    }
    bytes = x_.rows();
    return reinterpret_cast<const char*>(pixels_->col(sample).data());
  }

  void fill_column(Index j, Index sample) {
    if (dense_ != nullptr) {
      x_.col(j) = dense_->col(sample);
      return;
    }
    const std::uint8_t* p = pixels_->col(sample).data();
    S* out = x_.col(j).data();
    // The channels are consecutive runs of pixels_per_channel_ rows, each with its own table.
    for (Index c = 0; c * pixels_per_channel_ < x_.rows(); ++c) {
      const Index first = c * pixels_per_channel_;
      detail::lookup_bytes(p + first, std::min(pixels_per_channel_, x_.rows() - first),
                           table_.data() + c * 256, out + first);
    }
  }

  const Pixels* pixels_ = nullptr;  // image source ...
  const Matrix<S>* dense_ = nullptr;  // ... or float source
  const Labels* labels_ = nullptr;
  std::vector<Index> indices_;  // the samples of this loader
  std::vector<Index> order_;    // indices_ in this epoch's order
  LoaderOptions options_;
  std::vector<S> table_;            // channels * 256 transformed byte values
  Index pixels_per_channel_ = 0;
  Matrix<S> x_;  // features x batch_size
  std::uint64_t version_ = 0;  // moves on whenever x_ changes (Batch::source)
  Labels y_;
  Index position_ = 0;
  Index batch_index_ = 0;
  std::int64_t epoch_ = 0;
  Index source_cols_ = 0, source_labels_ = 0;  // the source's size when the loader was made
};

}  // namespace mlp
