// SGD: stochastic gradient descent with momentum, Nesterov momentum and (coupled) weight decay, with
// PyTorch's torch.optim.SGD update (dampening 0):
//   g = grad + weight_decay * w                      (decay tensors only: Linear weights)
//   b = g                     on the first step,  b = momentum * b + g  after
//   g = g + momentum * b      (Nesterov)          or  g = b  (classic momentum)
//   w = w - lr * g
#pragma once

#include "mlp/optim/optimizer.hpp"

namespace mlp {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

template <class S = float>
class SGD final : public Optimizer<S> {
 public:
  SGD(std::vector<TensorRef<S>> params, SGDOptions options)
      : Optimizer<S>(std::move(params), options.lr), o_(options) {
    this->check_hyper(o_.momentum >= 0.0 && o_.momentum < 1.0,
                      "SGD momentum has to be in [0, 1)", o_.momentum);
    this->check_hyper(o_.weight_decay >= 0.0, "SGD weight_decay has to be >= 0", o_.weight_decay);
    detail::require(!o_.nesterov || o_.momentum > 0.0, "Nesterov momentum needs momentum > 0");
  }

  std::string_view name() const override { return "sgd"; }
  std::map<std::string, double> hyperparameters() const override {
    return {{"lr", this->base_lr_}, {"momentum", o_.momentum}, {"nesterov", o_.nesterov ? 1.0 : 0.0},
            {"weight_decay", o_.weight_decay}};
  }

 protected:
  void update() override {
    const S lr = static_cast<S>(this->lr_), mu = static_cast<S>(o_.momentum);
    const bool first = !this->has_buffer(0);
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      const auto& p = this->params_[i];
      auto w = p.value_map().array();
      const auto grad = p.grad_map().array();
      const S wd = p.decay ? static_cast<S>(o_.weight_decay) : S(0);
      if (o_.momentum == 0.0) {
        if (wd != S(0)) {
          w -= lr * (grad + wd * w);
        } else {
          w -= lr * grad;
        }
        continue;
      }
      auto b = this->buffer(0)[i].array();
      if (first) {
        b = grad + wd * w;
      } else {
        b = mu * b + grad + wd * w;
      }
      if (o_.nesterov) {
        w -= lr * ((grad + wd * w) + mu * b);
      } else {
        w -= lr * b;
      }
    }
  }
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions o_;
};

}  // namespace mlp
