// Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), with PyTorch's update rules.
// At step t (1, 2, ...), for every parameter:
//   Adam:  g = grad + weight_decay * w            (coupled, "L2 through the optimizer")
//   AdamW: w = w * (1 - lr * weight_decay)        (decoupled), g = grad
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   w = w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Weight decay touches decay tensors only (Linear weights). The bias corrections use t, which
// advances once per step() for all tensors together.
#pragma once

#include "mlp/detail/exact_sqrt.hpp"
#include "mlp/optim/optimizer.hpp"

#include <array>
#include <cmath>

namespace mlp {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // coupled: added to the gradient ("L2 through the optimizer")
};

// AdamW's defaults are PyTorch's, weight_decay 0.01 included.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;  // decoupled: w = w * (1 - lr * weight_decay) before the update
};

namespace detail {

// The update both share; `decoupled` chooses where weight decay goes.
template <class S>
class AdamUpdate : public Optimizer<S> {
 public:
  std::map<std::string, double> hyperparameters() const override {
    return {{"lr", this->base_lr_}, {"beta1", o_.beta1}, {"beta2", o_.beta2}, {"eps", o_.eps},
            {"weight_decay", o_.weight_decay}};
  }

 protected:
  AdamUpdate(std::vector<TensorRef<S>> params, const AdamOptions& options, bool decoupled)
      : Optimizer<S>(std::move(params), options.lr), o_(options), decoupled_(decoupled) {
    const char* name = decoupled ? "AdamW" : "Adam";
    this->check_hyper(o_.beta1 >= 0.0 && o_.beta1 < 1.0, detail::concat(name, " beta1 has to be in [0, 1)").c_str(), o_.beta1);
    this->check_hyper(o_.beta2 >= 0.0 && o_.beta2 < 1.0, detail::concat(name, " beta2 has to be in [0, 1)").c_str(), o_.beta2);
    this->check_hyper(o_.eps > 0.0, detail::concat(name, " eps has to be positive").c_str(), o_.eps);
    this->check_hyper(o_.weight_decay >= 0.0, detail::concat(name, " weight_decay has to be >= 0").c_str(), o_.weight_decay);
  }

  // On the library's threads in blocks (Optimizer::for_each_block).
  void update() override {
    const auto t = static_cast<double>(this->steps_);
    const double bc1 = 1.0 - std::pow(o_.beta1, t);
    const double bc2 = 1.0 - std::pow(o_.beta2, t);
    const S step_size = static_cast<S>(this->lr_ / bc1);
    const S sqrt_bc2 = static_cast<S>(std::sqrt(bc2));
    // (1 - beta) in double, then rounded, as PyTorch passes it: in float, 1.0f - 0.999f is 1.3e-5 below 0.001f
    const S b1 = static_cast<S>(o_.beta1), b2 = static_cast<S>(o_.beta2);
    const S one_minus_b1 = static_cast<S>(1.0 - o_.beta1), one_minus_b2 = static_cast<S>(1.0 - o_.beta2);
    const S eps = static_cast<S>(o_.eps);
    const bool decoupled = decoupled_;
    auto& m_all = this->buffer(0);
    auto& v_all = this->buffer(1);
    const auto& params = this->params_;
    const S weight_decay = static_cast<S>(o_.weight_decay);
    const S shrink = static_cast<S>(1.0 - this->lr_ * o_.weight_decay);  // AdamW's decoupled decay
    const auto written = [&](std::size_t i) {
      return std::array<const S*, 3>{params[i].value, m_all[i].data(), v_all[i].data()};
    };
    this->template for_each_block<3>(written, [&](std::size_t i, Index begin, Index end) {
      const S wd = params[i].decay ? weight_decay : S(0);
      const Index n = end - begin;
      Eigen::Map<Array<S>> w(params[i].value + begin, n), m(m_all[i].data() + begin, n), v(v_all[i].data() + begin, n);
      const Eigen::Map<const Array<S>> g(params[i].grad + begin, n);
      if (wd != S(0) && decoupled) w *= shrink;
      if (wd != S(0) && !decoupled) {
        m = b1 * m + one_minus_b1 * (g + wd * w);
        v = b2 * v + one_minus_b2 * (g + wd * w) * (g + wd * w);
      } else {
        m = b1 * m + one_minus_b1 * g;
        v = b2 * v + one_minus_b2 * g * g;
      }
      // PyTorch's order of operations, (value * g) * g and sqrt(v) / sqrt(bc2): built with FMA, as
      // PyTorch's CPU kernels are (-march=native), float runs give its float32 state and weights to
      // the bit; without FMA a few ulp from them (benchmarks/compare_optimizers_pytorch.py)
      w -= step_size * m / (detail::exact_sqrt(v) / sqrt_bc2 + eps);
    });
  }
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool non_negative_buffer(std::size_t b) const override { return b == 1; }

 private:
  AdamOptions o_;
  bool decoupled_;
};

}  // namespace detail

template <class S = float>
class Adam final : public detail::AdamUpdate<S> {
 public:
  Adam(std::vector<TensorRef<S>> params, AdamOptions options)
      : detail::AdamUpdate<S>(std::move(params), options, false) {}
  std::string_view name() const override { return "adam"; }
};

template <class S = float>
class AdamW final : public detail::AdamUpdate<S> {
 public:
  AdamW(std::vector<TensorRef<S>> params, AdamWOptions o)
      : detail::AdamUpdate<S>(std::move(params), {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}, true) {}
  std::string_view name() const override { return "adamw"; }
};

}  // namespace mlp
