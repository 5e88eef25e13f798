// Gradient checking by central finite differences (run it in double precision).
//
// For every element w of every tensor: numeric = (L(w + eps) - L(w - eps)) / (2 eps), compared
// with the analytic gradient already stored in the tensor's grad. The relative error is
//   |analytic - numeric| / max(|analytic|, |numeric|, floor)
// where floor (1e-3 by default) keeps gradients that are (nearly) zero from turning round-off
// noise into a huge ratio: below the floor the comparison is absolute, at the floor's scale.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/losses/softmax_cross_entropy.hpp"
#include "mlp/model/sequential.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace mlp {

struct GradCheckReport {
  double max_rel_error = 0.0;  // worst relative error over all checked elements
  std::string tensor;          // where it occurred: tensor name ...
  Index row = -1, col = -1;    // ... and element
  double analytic = 0.0, numeric = 0.0;
  Index checked = 0;           // number of elements compared

  std::string describe() const {
    return detail::concat("max relative error ", max_rel_error, " at ", tensor, "(", row, ", ", col,
                          "): analytic ", analytic, ", numeric ", numeric, " (", checked,
                          " elements checked)");
  }
};

// loss(): recomputes the scalar loss from the current tensor values (forward only). The analytic
// gradients must be in the tensors' grad pointers when this is called; they are copied first,
// because evaluating loss() may overwrite the layers' caches.
template <class LossFn>
GradCheckReport check_gradients(const std::vector<TensorRef<double>>& tensors, LossFn&& loss,
                                double eps = 1e-6, double floor = 1e-3) {
  // (a floor of inf made every error 0, and an eps of 1e-300 left w + eps == w: numeric 0, so an
  // analytic gradient of zeros passed; an empty list "passed" with 0 elements checked)
  detail::require(std::isfinite(eps) && eps > 0.0 && std::isfinite(floor) && floor > 0.0,
                  "check_gradients needs a finite eps > 0 and a finite floor > 0, got eps=", eps, " floor=", floor);
  detail::require(!tensors.empty(), "check_gradients: no tensor to check");
  std::vector<Matrix<double>> analytic;
  for (const auto& t : tensors) {
    detail::require(t.grad != nullptr, "check_gradients: tensor '", t.name, "' has no gradient");
    detail::require(t.rows * t.cols > 0, "check_gradients: tensor '", t.name, "' has no element");
    analytic.emplace_back(t.grad_map());
  }
  GradCheckReport report;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    auto value = tensors[k].value_map();
    for (Index j = 0; j < value.cols(); ++j) {
      for (Index i = 0; i < value.rows(); ++i) {
        const double saved = value(i, j);
        detail::require(saved + eps != saved && saved - eps != saved, "check_gradients: eps ", eps,
                        " does not change ", tensors[k].name, "(", i, ", ", j, ") = ", saved,
                        " in double precision; use a larger eps (the default is 1e-6)");
        value(i, j) = saved + eps;
        const double plus = static_cast<double>(loss());
        value(i, j) = saved - eps;
        const double minus = static_cast<double>(loss());
        value(i, j) = saved;
        const double numeric = (plus - minus) / (2.0 * eps);
        const double a = analytic[k](i, j);
        const double scale = std::max({std::abs(a), std::abs(numeric), floor});
        const double rel = std::abs(a - numeric) / scale;
        ++report.checked;
        if (rel > report.max_rel_error || report.row < 0 || !std::isfinite(rel)) {
          report = {rel, tensors[k].name, i, j, a, numeric, report.checked};
        }
      }
    }
  }
  return report;
}

// A whole model under softmax cross-entropy, every parameter and the input: the analytic pass runs
// once in Train mode, then every numeric evaluation replays the dropout generators' states saved
// before it, so all of them see the same masks (and BatchNorm the same batch statistics). The
// model's input gradient is switched on for the check and its buffers (running statistics, which
// every Train forward moves) are restored afterwards.
inline GradCheckReport check_model_gradients(Sequential<double>& model, Matrix<double> x, const Labels& y,
                                             double label_smoothing = 0.0, double eps = 1e-6) {
  const bool input_grad = model.input_grad();
  model.set_input_grad(true);
  const std::vector<std::uint64_t> states = model.random_states();
  StateDict<double> buffers_before;
  for (auto& b : model.buffers()) buffers_before.push_back({b.name, b.value_map()});
  SoftmaxCrossEntropy<double> loss(label_smoothing);
  loss.forward(model.forward(x, Mode::Train), y);
  Matrix<double> dx = model.backward(loss.backward());
  std::vector<TensorRef<double>> tensors = model.parameters();
  tensors.push_back({"input", x.data(), dx.data(), x.rows(), x.cols(), false});
  GradCheckReport report = check_gradients(tensors, [&] {
    model.set_random_states(states);
    return loss.forward(model.forward(x, Mode::Train), y);
  }, eps);
  model.set_random_states(states);
  for (auto& b : model.buffers()) b.value_map() = find_tensor(buffers_before, b.name)->value;
  model.set_input_grad(input_grad);
  return report;
}

}  // namespace mlp
