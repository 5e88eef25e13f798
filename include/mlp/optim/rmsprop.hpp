// RMSprop (Tieleman & Hinton, 2012) with PyTorch's torch.optim.RMSprop update:
//   g = grad + weight_decay * w
//   v = alpha v + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g;  denom = sqrt(v - a^2) + eps,  else denom = sqrt(v) + eps
//   momentum > 0: b = momentum b + g / denom;  w = w - lr b      else  w = w - lr g / denom
#pragma once

#include "mlp/optim/optimizer.hpp"

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
  void update() override {
    const S lr = static_cast<S>(this->lr_), alpha = static_cast<S>(o_.alpha);
    const S eps = static_cast<S>(o_.eps), mu = static_cast<S>(o_.momentum);
    auto& v_all = this->buffer(0);
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      const auto& p = this->params_[i];
      auto w = p.value_map().array();
      const auto grad = p.grad_map().array();
      const S wd = p.decay ? static_cast<S>(o_.weight_decay) : S(0);
      auto v = v_all[i].array();
      v = alpha * v + (S(1) - alpha) * (grad + wd * w).square();
      // Expressions, not temporaries: every line below is one fused element-wise pass.
      auto apply = [&](const auto& denom) {
        if (o_.momentum > 0.0) {
          auto b = this->buffer(2)[i].array();
          b = mu * b + (grad + wd * w) / denom;
          w -= lr * b;
        } else {
          w -= lr * (grad + wd * w) / denom;
        }
      };
      if (o_.centered) {
        auto a = this->buffer(1)[i].array();
        a = alpha * a + (S(1) - alpha) * (grad + wd * w);
        apply((v - a.square()).sqrt() + eps);
      } else {
        apply(v.sqrt() + eps);
      }
    }
  }
  std::vector<std::string> buffer_names() const override {
    return {"square_avg", "grad_avg", "momentum_buffer"};
  }

 private:
  RMSpropOptions o_;
};

}  // namespace mlp
