// RMSprop (Tieleman & Hinton, 2012) with PyTorch's torch.optim.RMSprop update:
//   g = grad + weight_decay * w
//   v = alpha v + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g;  denom = sqrt(v - a^2) + eps,  else denom = sqrt(v) + eps
//   momentum > 0: b = momentum b + g / denom;  w = w - lr b      else  w = w - lr g / denom
#pragma once

#include "mlp/detail/exact_sqrt.hpp"
#include "mlp/optim/optimizer.hpp"

#include <array>

namespace mlp {

struct RMSpropOptions {
  double lr = 0.01;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

template <class S = float>
class RMSprop final : public Optimizer<S> {
 public:
  RMSprop(std::vector<TensorRef<S>> params, RMSpropOptions options)
      : Optimizer<S>(std::move(params), options.lr), o_(options) {
    this->check_hyper(o_.alpha >= 0.0 && o_.alpha < 1.0, "RMSprop alpha has to be in [0, 1)", o_.alpha);
    this->check_hyper(o_.eps > 0.0, "RMSprop eps has to be positive", o_.eps);
    this->check_hyper(o_.momentum >= 0.0 && o_.momentum < 1.0,
                      "RMSprop momentum has to be in [0, 1)", o_.momentum);
    this->check_hyper(o_.weight_decay >= 0.0, "RMSprop weight_decay has to be >= 0", o_.weight_decay);
  }

  std::string_view name() const override { return "rmsprop"; }
  std::map<std::string, double> hyperparameters() const override {
    return {{"lr", this->base_lr_},
            {"alpha", o_.alpha},
            {"eps", o_.eps},
            {"weight_decay", o_.weight_decay},
            {"momentum", o_.momentum},
            {"centered", o_.centered ? 1.0 : 0.0}};
  }

 protected:
  // On the library's threads in blocks (Optimizer::for_each_block).
  void update() override {
    const S lr = static_cast<S>(this->lr_), alpha = static_cast<S>(o_.alpha);
    const S one_minus_alpha = static_cast<S>(1.0 - o_.alpha);  // in double, then rounded, as PyTorch passes it
    const S eps = static_cast<S>(o_.eps), mu = static_cast<S>(o_.momentum);
    const S weight_decay = static_cast<S>(o_.weight_decay);
    const bool centered = o_.centered, momentum = o_.momentum > 0.0;
    // the buffers this update uses, created before the threads
    auto& v_all = this->buffer(0);
    std::vector<Matrix<S>>* a_all = centered ? &this->buffer(1) : nullptr;
    std::vector<Matrix<S>>* b_all = momentum ? &this->buffer(2) : nullptr;
    const auto& params = this->params_;
    const auto written = [&](std::size_t i) {
      return std::array<const S*, 4>{params[i].value, v_all[i].data(), centered ? (*a_all)[i].data() : params[i].value,
                                     momentum ? (*b_all)[i].data() : params[i].value};
    };
    this->template for_each_block<4>(written, [&](std::size_t i, Index begin, Index end) {
      const Index n = end - begin;
      const S wd = params[i].decay ? weight_decay : S(0);
      Eigen::Map<Array<S>> w(params[i].value + begin, n), v(v_all[i].data() + begin, n);
      const Eigen::Map<const Array<S>> grad(params[i].grad + begin, n);
      v = alpha * v + one_minus_alpha * (grad + wd * w) * (grad + wd * w);
      // Expressions, not temporaries: every line below is one fused element-wise pass.
      auto apply = [&](const auto& denom) {
        if (momentum) {
          Eigen::Map<Array<S>> b((*b_all)[i].data() + begin, n);
          b *= mu;  // rounded on its own, as PyTorch's mul_ before its addcdiv_
          b += (grad + wd * w) / denom;
          w -= lr * b;
        } else {
          w -= lr * (grad + wd * w) / denom;
        }
      };
      if (centered) {
        Eigen::Map<Array<S>> a((*a_all)[i].data() + begin, n);
        a = alpha * a + one_minus_alpha * (grad + wd * w);
        apply(detail::exact_sqrt(v - a.square()) + eps);
      } else {
        apply(detail::exact_sqrt(v) + eps);
      }
    });
  }
  std::vector<std::string> buffer_names() const override {
    return {"square_avg", "grad_avg", "momentum_buffer"};
  }
  bool non_negative_buffer(std::size_t b) const override { return b == 0; }

 private:
  RMSpropOptions o_;
};

}  // namespace mlp
