// Adagrad (Duchi, Hazan & Singer, 2011) with PyTorch's torch.optim.Adagrad update, at step t:
//   g = grad + weight_decay * w
//   clr = lr / (1 + (t - 1) lr_decay)
//   s = s + g^2                         (s starts at initial_accumulator_value)
//   w = w - clr * g / (sqrt(s) + eps)
#pragma once

#include "mlp/optim/optimizer.hpp"

namespace mlp {

struct AdagradOptions {
  double lr = 0.01;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};

template <class S = float>
class Adagrad final : public Optimizer<S> {
 public:
  Adagrad(std::vector<TensorRef<S>> params, AdagradOptions options)
      : Optimizer<S>(std::move(params), options.lr), o_(options) {
    this->check_hyper(o_.lr_decay >= 0.0, "Adagrad lr_decay has to be >= 0", o_.lr_decay);
    this->check_hyper(o_.eps > 0.0, "Adagrad eps has to be positive", o_.eps);
    this->check_hyper(o_.initial_accumulator_value >= 0.0,
                      "Adagrad initial_accumulator_value has to be >= 0",
                      o_.initial_accumulator_value);
    this->check_hyper(o_.weight_decay >= 0.0, "Adagrad weight_decay has to be >= 0", o_.weight_decay);
  }

  std::string_view name() const override { return "adagrad"; }
  std::map<std::string, double> hyperparameters() const override {
    return {{"lr", this->base_lr_},
            {"lr_decay", o_.lr_decay},
            {"weight_decay", o_.weight_decay},
            {"initial_accumulator_value", o_.initial_accumulator_value},
            {"eps", o_.eps}};
  }

 protected:
  void update() override {
    const S clr = static_cast<S>(this->lr_ / (1.0 + static_cast<double>(this->steps_ - 1) * o_.lr_decay));
    const S eps = static_cast<S>(o_.eps);
    auto& sums = this->buffer(0, static_cast<S>(o_.initial_accumulator_value));
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      const auto& p = this->params_[i];
      auto w = p.value_map().array();
      const S wd = p.decay ? static_cast<S>(o_.weight_decay) : S(0);
      auto s = sums[i].array();
      if (wd != S(0)) {
        s += (p.grad_map().array() + wd * w).square();
        w -= clr * (p.grad_map().array() + wd * w) / (s.sqrt() + eps);
      } else {
        s += p.grad_map().array().square();
        w -= clr * p.grad_map().array() / (s.sqrt() + eps);
      }
    }
  }
  std::vector<std::string> buffer_names() const override { return {"sum"}; }

 private:
  AdagradOptions o_;
};

}  // namespace mlp
