// Evaluation of a model on a whole data set, in Eval mode (BatchNorm running statistics, no
// dropout): mean cross-entropy without label smoothing, accuracy, the confusion matrix, and any
// Metrics of the user's.
#pragma once

#include "mlp/data/dataloader.hpp"
#include "mlp/losses/softmax_cross_entropy.hpp"
#include "mlp/model/sequential.hpp"
#include "mlp/train/history.hpp"
#include "mlp/train/metric.hpp"

#include <vector>

namespace mlp {

template <class S>
EvalResult evaluate(Sequential<S>& model, DataLoader<S>& loader, const std::vector<Metric<S>*>& metrics = {}) {
  SoftmaxCrossEntropy<S> loss;
  EvalResult result;
  double total = 0.0;
  Index correct = 0;
  for (auto* m : metrics) m->reset();
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const Matrix<S>& logits = model.forward(batch->x, Mode::Eval);
    total += static_cast<double>(loss.forward(logits, batch->y)) * static_cast<double>(batch->size());
    correct += count_correct(logits, batch->y);
    if (result.confusion.classes() != logits.rows()) result.confusion = ConfusionMatrix(logits.rows());
    result.confusion.add(logits, batch->y);
    for (auto* m : metrics) m->update(logits, batch->y);
    result.samples += batch->size();
  }
  detail::require(result.samples > 0, "evaluate: the loader has no samples");
  result.loss = total / static_cast<double>(result.samples);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.samples);
  for (auto* m : metrics) result.metrics[m->name()] = m->compute();
  return result;
}

}  // namespace mlp
