// SGD: stochastic gradient descent with momentum, Nesterov momentum and (coupled) weight decay, with
// PyTorch's torch.optim.SGD update (dampening 0):
//   g = grad + weight_decay * w                      (decay tensors only: Linear weights)
//   b = g                     on the first step,  b = momentum * b + g  after
//   g = g + momentum * b      (Nesterov)          or  g = b  (classic momentum)
//   w = w - lr * g
#pragma once

#include "mlp/optim/optimizer.hpp"

#include <array>

namespace mlp {

struct SGDOptions {
  double lr = 0.01;  // (PyTorch 1.13 has no default rate; 2.2 and later default to 1e-3)
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
  // On the library's threads in blocks (Optimizer::for_each_block).
  void update() override {
    const S lr = static_cast<S>(this->lr_), mu = static_cast<S>(o_.momentum);
    const S weight_decay = static_cast<S>(o_.weight_decay);
    const bool momentum = o_.momentum != 0.0, nesterov = o_.nesterov;
    const bool first = !this->has_buffer(0);
    std::vector<Matrix<S>>* b_all = momentum ? &this->buffer(0) : nullptr;  // created before the threads
    const auto& params = this->params_;
    const auto written = [&](std::size_t i) {
      return std::array<const S*, 2>{params[i].value, momentum ? (*b_all)[i].data() : params[i].value};
    };
    this->template for_each_block<2>(written, [&](std::size_t i, Index begin, Index end) {
      const Index n = end - begin;
      const S wd = params[i].decay ? weight_decay : S(0);
      Eigen::Map<Array<S>> w(params[i].value + begin, n);
      const Eigen::Map<const Array<S>> grad(params[i].grad + begin, n);
      if (!momentum) {
        if (wd != S(0)) {
          w -= lr * (grad + wd * w);
        } else {
          w -= lr * grad;
        }
        return;
      }
      Eigen::Map<Array<S>> b((*b_all)[i].data() + begin, n);
      // mu * b rounded on its own, then the decayed gradient added, as PyTorch's mul_ and add_ round
      // (one expression would let the compiler fuse mu * b into a multiply-add)
      if (first) {
        b = grad + wd * w;
      } else {
        b *= mu;
        b += grad + wd * w;
      }
      if (nesterov) {
        w -= lr * ((grad + wd * w) + mu * b);
      } else {
        w -= lr * b;
      }
    });
  }
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions o_;
};

}  // namespace mlp
