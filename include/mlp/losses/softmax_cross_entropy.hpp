// Softmax fused with cross-entropy, the numerically stable way:
//   z = logits - max_k logits;  log P = z - log sum_k exp z;  L = -(1/B) sum_b sum_k T_kb log P_kb
// with targets T = (1 - eps) onehot(y) + eps / K (label smoothing eps, 0 by default), and
//   dL/dlogits = (P - T) / B.
// No probability is ever divided by, so logits of magnitude 1e4 still give a finite loss.
// The loss owns the batch mean: the gradient it returns already carries the 1/B.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/core/types.hpp"
#include "mlp/detail/resize_buffer.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace mlp {

template <class S = float>
class SoftmaxCrossEntropy {
 public:
  explicit SoftmaxCrossEntropy(double label_smoothing = 0.0) : smoothing_(label_smoothing) {
    detail::require(label_smoothing >= 0.0 && label_smoothing <= 1.0,
                    "label_smoothing has to be in [0, 1], but got ", label_smoothing);
  }

  // logits: K x B, labels: B class ids in [0, K). Returns the mean loss over the batch.
  S forward(const Eigen::Ref<const Matrix<S>>& logits, const Eigen::Ref<const Labels>& labels) {
    const Index classes = logits.rows();
    const Index batch = logits.cols();
    detail::require(classes > 0 && batch > 0, "SoftmaxCrossEntropy got empty logits (",
                    shape_string(classes, batch), ")");
    detail::require(labels.size() == batch, "SoftmaxCrossEntropy got ", batch,
                    " columns of logits but ", labels.size(), " labels");
    valid_ = false;  // until this forward completes, backward is refused
    for (Index b = 0; b < batch; ++b) {
      detail::require(labels[b] >= 0 && labels[b] < classes, "label ", labels[b], " at column ", b,
                      " is out of range for ", classes, " classes");
    }
    labels_.assign(labels.data(), labels.data() + batch);  // keeps its capacity: no allocation
    detail::resize_buffer(probs_, classes, batch);
    const double eps = smoothing_;
    const double uniform = eps / static_cast<double>(classes);
    double total = 0.0, plain = 0.0;
    for (Index b = 0; b < batch; ++b) {
      const int y = labels[b];
      const S max = logits.col(b).maxCoeff();
      probs_.col(b).array() = (logits.col(b).array() - max).exp();
      const S sum = probs_.col(b).sum();
      const S log_sum = std::log(sum);
      // log P_k = logits_k - max - log_sum
      const double log_p_y = static_cast<double>(logits(y, b) - max - log_sum);
      plain -= log_p_y;
      double loss = -(1.0 - eps) * log_p_y;
      if (eps > 0.0) {
        const double sum_log_p = static_cast<double>((logits.col(b).array() - max).sum() -
                                                     S(classes) * log_sum);
        loss -= uniform * sum_log_p;
      }
      total += loss;
      probs_.col(b) /= sum;
    }
    loss_ = static_cast<S>(total / static_cast<double>(batch));
    plain_loss_ = plain / static_cast<double>(batch);
    valid_ = true;
    return loss_;
  }

  // dL/dlogits = (P - T) / B, K x B. Valid after forward.
  const Matrix<S>& backward() {
    detail::require<RuntimeError>(valid_, "SoftmaxCrossEntropy::backward needs a successful forward first");
    const Index classes = probs_.rows();
    const Index batch = probs_.cols();
    const S inv_batch = S(1) / S(batch);
    const S off = static_cast<S>(smoothing_ / static_cast<double>(classes));
    const S on = static_cast<S>(1.0 - smoothing_) + off;
    detail::resize_buffer(grad_, classes, batch);
    grad_.array() = (probs_.array() - off) * inv_batch;
    for (Index b = 0; b < batch; ++b) grad_(labels_[static_cast<std::size_t>(b)], b) -= (on - off) * inv_batch;
    return grad_;
  }

  const Matrix<S>& probabilities() const { return probs_; }  // softmax of the last logits
  S loss() const { return loss_; }
  // The cross-entropy of the last forward without label smoothing (equal to loss() without it):
  // what validation reports, so train and validation losses compare the same quantity.
  double plain_loss() const { return plain_loss_; }
  double label_smoothing() const { return smoothing_; }

 private:
  double smoothing_;
  std::vector<std::int32_t> labels_;  // labels of the last forward
  Matrix<S> probs_, grad_;          // K x B
  S loss_ = S(0);
  double plain_loss_ = 0.0;
  bool valid_ = false;
};

}  // namespace mlp
