// A metric of your own, computed over the validation data every epoch and logged as
// "val_<name>" next to val_loss and val_acc: it can be monitored (early stopping, best
// checkpoint), and it appears in metrics.csv and TensorBoard. Like torchmetrics: reset, update per
// batch (Eval-mode logits), compute.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/types.hpp"

#include <string>

namespace mlp {

template <class S = float>
class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;  // logged as "val_" + name()
  virtual void reset() = 0;
  // logits: K x B (Eval mode), labels: B class ids.
  virtual void update(const Eigen::Ref<const Matrix<S>>& logits, const Eigen::Ref<const Labels>& labels) = 0;
  virtual double compute() const = 0;
};

// Fraction of samples whose label is among the k largest logits ("top5_acc" for k = 5). Ties rank
// as argmax ranks them, the first one first, so that top-1 is the accuracy; a column with a NaN
// predicts no class (a miss), as in count_correct.
template <class S = float>
class TopKAccuracy final : public Metric<S> {
 public:
  explicit TopKAccuracy(Index k) : k_(k) { detail::require(k >= 1, "TopKAccuracy needs k >= 1, but got ", k); }
  std::string name() const override { return "top" + std::to_string(k_) + "_acc"; }
  void reset() override { hits_ = samples_ = 0; }
  void update(const Eigen::Ref<const Matrix<S>>& logits, const Eigen::Ref<const Labels>& labels) override {
    detail::require(labels.size() == logits.cols(), "TopKAccuracy: ", logits.cols(), " columns of logits but ",
                    labels.size(), " labels");
    // with k or fewer classes every label is in the top k: an accuracy of 1 that says nothing
    detail::require(k_ < logits.rows(), "TopKAccuracy(", k_, ") needs more than ", k_, " classes, but the logits have ",
                    logits.rows());
    for (Index b = 0; b < logits.cols(); ++b) {
      detail::require(labels[b] >= 0 && labels[b] < logits.rows(), "TopKAccuracy: label ", labels[b],
                      " is out of range for ", logits.rows(), " classes");
      if (logits.col(b).hasNaN()) continue;
      const Index label = labels[b];
      const S target = logits(label, b);
      Index above = 0;  // logits ranked before the label's: the label is in the top k when fewer than k
      for (Index r = 0; r < logits.rows(); ++r) {
        above += logits(r, b) > target || (logits(r, b) == target && r < label) ? 1 : 0;
      }
      hits_ += above < k_ ? 1 : 0;
    }
    samples_ += logits.cols();
  }
  double compute() const override {
    return samples_ == 0 ? 0.0 : static_cast<double>(hits_) / static_cast<double>(samples_);
  }

 private:
  Index k_;
  Index hits_ = 0, samples_ = 0;
};

}  // namespace mlp
