// Adagrad (Duchi, Hazan & Singer, 2011) with PyTorch's torch.optim.Adagrad update, at step t:
//   g = grad + weight_decay * w
//   clr = lr / (1 + (t - 1) lr_decay)
//   s = s + g^2                         (s starts at initial_accumulator_value)
//   w = w - clr * g / (sqrt(s) + eps)
#pragma once

#include "mlp/detail/exact_sqrt.hpp"
#include "mlp/optim/optimizer.hpp"

#include <array>

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
  // On the library's threads in blocks (Optimizer::for_each_block).
  void update() override {
    const S clr = static_cast<S>(this->lr_ / (1.0 + static_cast<double>(this->steps_ - 1) * o_.lr_decay));
    const S eps = static_cast<S>(o_.eps), weight_decay = static_cast<S>(o_.weight_decay);
    auto& sums = this->buffer(0, static_cast<S>(o_.initial_accumulator_value));
    const auto& params = this->params_;
    const auto written = [&](std::size_t i) { return std::array<const S*, 2>{params[i].value, sums[i].data()}; };
    this->template for_each_block<2>(written, [&](std::size_t i, Index begin, Index end) {
      const Index n = end - begin;
      const S wd = params[i].decay ? weight_decay : S(0);
      Eigen::Map<Array<S>> w(params[i].value + begin, n), s(sums[i].data() + begin, n);
      const Eigen::Map<const Array<S>> grad(params[i].grad + begin, n);
      if (wd != S(0)) {
        s += (grad + wd * w).square();
        w -= clr * (grad + wd * w) / (detail::exact_sqrt(s) + eps);
      } else {
        s += grad.square();
        w -= clr * grad / (detail::exact_sqrt(s) + eps);
      }
    });
  }
  std::vector<std::string> buffer_names() const override { return {"sum"}; }
  bool non_negative_buffer(std::size_t b) const override { return b == 0; }

 private:
  AdagradOptions o_;
};

}  // namespace mlp
