// Classification metrics over logits (K x B, one sample per column).
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/types.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace mlp {

// Index of the largest logit of each column (the first one on ties); in a column with a NaN, the
// first NaN, as torch.argmax gives it. (count_correct and ConfusionMatrix count such a column as
// predicting no class instead.)
template <class Derived>
Labels argmax_columns(const Eigen::MatrixBase<Derived>& logits) {
  Labels out(logits.cols());
  for (Index b = 0; b < logits.cols(); ++b) {
    Index best = 0;
    const auto column = logits.col(b);
    for (Index r = 1; r < column.size() && !std::isnan(column[best]); ++r) {
      if (std::isnan(column[r]) || column[r] > column[best]) best = r;
    }
    out[b] = static_cast<std::int32_t>(best);
  }
  return out;
}

namespace detail {

// The class a column of logits predicts: its largest logit (the first one on ties), or -1, no class,
// when it holds a NaN (maxCoeff would name class 0, and a model with NaN weights scored 100% on
// samples of class 0).
template <class Column>
Index predicted_class(const Column& logits) {
  if (logits.hasNaN()) return -1;
  Index best = 0;
  logits.maxCoeff(&best);
  return best;
}

}  // namespace detail

template <class Derived>
Index count_correct(const Eigen::MatrixBase<Derived>& logits, const Eigen::Ref<const Labels>& labels) {
  detail::require(labels.size() == logits.cols(), "accuracy: ", logits.cols(),
                  " columns of logits but ", labels.size(), " labels");
  Index correct = 0;
  for (Index b = 0; b < logits.cols(); ++b) correct += detail::predicted_class(logits.col(b)) == labels[b] ? 1 : 0;
  return correct;
}

// Fraction of columns whose largest logit is the label.
template <class Derived>
double accuracy(const Eigen::MatrixBase<Derived>& logits, const Eigen::Ref<const Labels>& labels) {
  detail::require(logits.cols() > 0, "accuracy of an empty batch");
  return static_cast<double>(count_correct(logits, labels)) / static_cast<double>(logits.cols());
}

// counts(true, predicted) over a whole evaluation. A column of logits with a NaN predicts no class
// (as in count_correct): it is counted apart, as unpredicted(true), so that accuracy() and the
// classes' accuracies count it as wrong, as the evaluation's accuracy does.
class ConfusionMatrix {
 public:
  ConfusionMatrix() = default;
  explicit ConfusionMatrix(Index classes)
      : counts_(static_cast<std::size_t>(classes), std::vector<Index>(static_cast<std::size_t>(classes), 0)),
        unpredicted_(static_cast<std::size_t>(classes), 0) {}

  template <class Derived>
  void add(const Eigen::MatrixBase<Derived>& logits, const Eigen::Ref<const Labels>& labels) {
    detail::require(logits.rows() == classes() && labels.size() == logits.cols(),
                    "ConfusionMatrix::add: expected ", classes(), " rows of logits and one label "
                    "per column, got ", shape_string(logits.rows(), logits.cols()), " and ",
                    labels.size(), " labels");
    for (Index b = 0; b < logits.cols(); ++b) {
      const int y = labels[b];
      detail::require(y >= 0 && y < classes(), "label ", y, " is out of range for ", classes(),
                      " classes");
      const Index predicted = detail::predicted_class(logits.col(b));
      if (predicted < 0) {
        ++unpredicted_[static_cast<std::size_t>(y)];
      } else {
        ++counts_[static_cast<std::size_t>(y)][static_cast<std::size_t>(predicted)];
      }
    }
  }

  // Adds `n` samples of class `truth` predicted as `predicted` (e.g. when reading a saved matrix).
  void add_count(Index truth, Index predicted, Index n) {
    detail::require(truth >= 0 && truth < classes() && predicted >= 0 && predicted < classes() && n >= 0,
                    "ConfusionMatrix::add_count: (", truth, ", ", predicted, ", ", n, ") is out of range");
    counts_[static_cast<std::size_t>(truth)][static_cast<std::size_t>(predicted)] += n;
  }
  // Adds `n` samples of class `truth` whose logits predicted no class.
  void add_unpredicted(Index truth, Index n) {
    detail::require(truth >= 0 && truth < classes() && n >= 0, "ConfusionMatrix::add_unpredicted: (", truth, ", ", n,
                    ") is out of range");
    unpredicted_[static_cast<std::size_t>(truth)] += n;
  }

  Index classes() const { return static_cast<Index>(counts_.size()); }
  Index count(Index truth, Index predicted) const {
    return counts_.at(static_cast<std::size_t>(truth)).at(static_cast<std::size_t>(predicted));
  }
  // Samples of class `truth` whose logits held a NaN (no predicted class).
  Index unpredicted(Index truth) const { return unpredicted_.at(static_cast<std::size_t>(truth)); }
  Index total() const {
    Index n = 0;
    for (Index k = 0; k < classes(); ++k) n += class_samples(k);
    return n;
  }
  // Recall of class k: correct predictions among the samples whose label is k; NaN when no sample
  // has label k (a class the data does not hold was reported as 0% accurate).
  double class_accuracy(Index k) const {
    const Index row = class_samples(k);
    return row == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(count(k, k)) / static_cast<double>(row);
  }
  // The samples whose label is k (those predicted as no class included).
  Index class_samples(Index k) const {
    Index row = unpredicted(k);
    for (Index c : counts_.at(static_cast<std::size_t>(k))) row += c;
    return row;
  }
  double accuracy() const {
    Index correct = 0;
    for (Index k = 0; k < classes(); ++k) correct += count(k, k);
    const Index n = total();
    return n == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(n);
  }

 private:
  std::vector<std::vector<Index>> counts_;
  std::vector<Index> unpredicted_;
};

}  // namespace mlp
