// Optimizers against the published update rules. Each reference below is written independently of
// the library, element by element in long double, straight from PyTorch's documented algorithm;
// the tests run several steps on two tensors (one decayed weight, one bias) with changing
// gradients, so a bias correction advanced per tensor, or decay applied to the bias, would show.
#include "helpers.hpp"

#include <mlp/optim/adagrad.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/rmsprop.hpp>
#include <mlp/optim/sgd.hpp>

#include <cmath>
#include <memory>

using mlp_test::MatrixD;
using ld = long double;

namespace {

struct Problem {
  MatrixD w = MatrixD::Zero(2, 3), b = MatrixD::Zero(2, 1);
  MatrixD gw = MatrixD::Zero(2, 3), gb = MatrixD::Zero(2, 1);
  Problem() {
    w << 0.5, -1.0, 2.0, 0.25, -0.75, 1.5;
    b << 0.1, -0.2;
  }
  std::vector<mlp::TensorRef<double>> refs() {
    return {mlp::tensor_ref<double>("w", w, &gw, true), mlp::tensor_ref<double>("b", b, &gb, false)};
  }
  // Gradients that change every step (and differ between the tensors).
  void set_grads(int t) {
    for (mlp::Index i = 0; i < w.size(); ++i) gw.data()[i] = std::sin(1.0 + i + 0.7 * t);
    for (mlp::Index i = 0; i < b.size(); ++i) gb.data()[i] = 0.3 * std::cos(2.0 + i - 0.4 * t);
  }
};

// Flattened reference state: one entry per element of (w, b), with its decay flag.
struct Flat {
  std::vector<ld> w;
  std::vector<bool> decay;
  explicit Flat(Problem& p) {
    for (mlp::Index i = 0; i < p.w.size(); ++i) w.push_back(static_cast<ld>(p.w.data()[i])), decay.push_back(true);
    for (mlp::Index i = 0; i < p.b.size(); ++i) w.push_back(static_cast<ld>(p.b.data()[i])), decay.push_back(false);
  }
  static std::vector<ld> grads(Problem& p) {
    std::vector<ld> g;
    for (mlp::Index i = 0; i < p.gw.size(); ++i) g.push_back(static_cast<ld>(p.gw.data()[i]));
    for (mlp::Index i = 0; i < p.gb.size(); ++i) g.push_back(static_cast<ld>(p.gb.data()[i]));
    return g;
  }
  void check(Problem& p, double tol = 1e-12) const {
    for (mlp::Index i = 0; i < p.w.size(); ++i) {
      CHECK(p.w.data()[i] == doctest::Approx(static_cast<double>(w[static_cast<std::size_t>(i)])).epsilon(tol));
    }
    for (mlp::Index i = 0; i < p.b.size(); ++i) {
      CHECK(p.b.data()[i] == doctest::Approx(static_cast<double>(w[static_cast<std::size_t>(p.w.size() + i)])).epsilon(tol));
    }
  }
};

}  // namespace

TEST_CASE("SGD momentum and Nesterov by hand: w0 = 1, g = 0.5, lr = 0.1, momentum 0.9") {
  MatrixD w(1, 1), g(1, 1);
  w << 1.0;
  g << 0.5;
  mlp::SGD<double> sgd({mlp::tensor_ref<double>("w", w, &g, false)}, {0.1, 0.9, false, 0.0});
  sgd.step();
  CHECK(w(0, 0) == doctest::Approx(0.95));  // b = 0.5
  sgd.step();
  CHECK(w(0, 0) == doctest::Approx(0.855));  // b = 0.95
  sgd.step();
  CHECK(w(0, 0) == doctest::Approx(0.7195));  // b = 1.355
  w << 1.0;
  mlp::SGD<double> nesterov({mlp::tensor_ref<double>("w", w, &g, false)}, {0.1, 0.9, true, 0.0});
  nesterov.step();
  CHECK(w(0, 0) == doctest::Approx(0.905));  // b = 0.5, g + 0.9 b = 0.95
  nesterov.step();
  CHECK(w(0, 0) == doctest::Approx(0.7695));  // b = 0.95, g + 0.9 b = 1.355
  CHECK(nesterov.steps() == 2);
}

TEST_CASE("Adam by hand: the first steps move by about lr, whatever the gradient's size") {
  MatrixD w(1, 2), g(1, 2);
  w << 1.0, 1.0;
  g << 0.5, 1e-3;
  mlp::Adam<double> adam({mlp::tensor_ref<double>("w", w, &g, false)}, {});
  adam.set_lr(0.1);
  adam.step();
  // m_hat = g, v_hat = g^2: the step is lr * g / (|g| + eps).
  CHECK(w(0, 0) == doctest::Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
  CHECK(w(0, 1) == doctest::Approx(1.0 - 0.1 * 1e-3 / (1e-3 + 1e-8)).epsilon(1e-14));
  adam.step();  // a constant gradient keeps m_hat = g, v_hat = g^2
  CHECK(w(0, 0) == doctest::Approx(1.0 - 2 * 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-12));
}

TEST_CASE("SGD with momentum, Nesterov and weight decay follows PyTorch's rule over 5 steps") {
  for (bool nesterov : {false, true}) {
    Problem p;
    Flat ref(p);
    const ld lr = 0.05L, mu = 0.8L, wd = 0.01L;
    std::vector<ld> buf(ref.w.size(), 0.0L);
    mlp::SGD<double> sgd(p.refs(), {0.05, 0.8, nesterov, 0.01});
    for (int t = 1; t <= 5; ++t) {
      p.set_grads(t);
      const auto g0 = Flat::grads(p);
      for (std::size_t i = 0; i < ref.w.size(); ++i) {
        ld g = g0[i] + (ref.decay[i] ? wd * ref.w[i] : 0.0L);
        buf[i] = t == 1 ? g : mu * buf[i] + g;
        g = nesterov ? g + mu * buf[i] : buf[i];
        ref.w[i] -= lr * g;
      }
      sgd.step();
    }
    INFO("nesterov=", nesterov);
    ref.check(p);
  }
}

TEST_CASE("Adam and AdamW follow PyTorch's rule over 5 steps with one step counter for all tensors") {
  for (bool decoupled : {false, true}) {
    Problem p;
    Flat ref(p);
    const ld lr = 0.01L, b1 = 0.9L, b2 = 0.999L, eps = 1e-8L, wd = 0.1L;
    std::vector<ld> m(ref.w.size(), 0.0L), v(ref.w.size(), 0.0L);
    std::unique_ptr<mlp::Optimizer<double>> adam;
    if (decoupled) {
      adam = std::make_unique<mlp::AdamW<double>>(p.refs(), mlp::AdamWOptions{0.01, 0.9, 0.999, 1e-8, 0.1});
    } else {
      adam = std::make_unique<mlp::Adam<double>>(p.refs(), mlp::AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.1});
    }
    for (int t = 1; t <= 5; ++t) {
      p.set_grads(t);
      const auto g0 = Flat::grads(p);
      for (std::size_t i = 0; i < ref.w.size(); ++i) {
        ld g = g0[i];
        if (ref.decay[i] && decoupled) ref.w[i] *= 1.0L - lr * wd;
        if (ref.decay[i] && !decoupled) g += wd * ref.w[i];
        m[i] = b1 * m[i] + (1.0L - b1) * g;
        v[i] = b2 * v[i] + (1.0L - b2) * g * g;
        const ld m_hat = m[i] / (1.0L - std::pow(b1, t));
        const ld v_hat = v[i] / (1.0L - std::pow(b2, t));
        ref.w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
      }
      adam->step();
    }
    INFO("decoupled=", decoupled);
    ref.check(p, 1e-10);
    CHECK(adam->name() == (decoupled ? "adamw" : "adam"));
  }
}

TEST_CASE("RMSprop (plain, centered, momentum) follows PyTorch's rule over 5 steps") {
  for (int variant = 0; variant < 3; ++variant) {
    const bool centered = variant >= 1, use_momentum = variant == 2;
    Problem p;
    Flat ref(p);
    const ld lr = 0.01L, alpha = 0.9L, eps = 1e-8L, wd = 0.05L, mu = use_momentum ? 0.5L : 0.0L;
    std::vector<ld> sq(ref.w.size(), 0.0L), avg(ref.w.size(), 0.0L), buf(ref.w.size(), 0.0L);
    mlp::RMSpropOptions o;
    o.lr = 0.01;
    o.alpha = 0.9;
    o.weight_decay = 0.05;
    o.centered = centered;
    o.momentum = static_cast<double>(mu);
    mlp::RMSprop<double> rms(p.refs(), o);
    for (int t = 1; t <= 5; ++t) {
      p.set_grads(t);
      const auto g0 = Flat::grads(p);
      for (std::size_t i = 0; i < ref.w.size(); ++i) {
        const ld g = g0[i] + (ref.decay[i] ? wd * ref.w[i] : 0.0L);
        sq[i] = alpha * sq[i] + (1.0L - alpha) * g * g;
        ld denom;
        if (centered) {
          avg[i] = alpha * avg[i] + (1.0L - alpha) * g;
          denom = std::sqrt(sq[i] - avg[i] * avg[i]) + eps;
        } else {
          denom = std::sqrt(sq[i]) + eps;
        }
        if (use_momentum) {
          buf[i] = mu * buf[i] + g / denom;
          ref.w[i] -= lr * buf[i];
        } else {
          ref.w[i] -= lr * g / denom;
        }
      }
      rms.step();
    }
    INFO("variant ", variant);
    ref.check(p, 1e-10);
  }
}

TEST_CASE("AdaGrad with lr decay and an initial accumulator follows PyTorch's rule over 5 steps") {
  Problem p;
  Flat ref(p);
  const ld lr = 0.1L, decay = 0.05L, init = 0.2L, eps = 1e-10L, wd = 0.02L;
  std::vector<ld> sum(ref.w.size(), init);
  mlp::Adagrad<double> ada(p.refs(), {0.1, 0.05, 0.02, 0.2, 1e-10});
  for (int t = 1; t <= 5; ++t) {
    p.set_grads(t);
    const auto g0 = Flat::grads(p);
    const ld clr = lr / (1.0L + (t - 1) * decay);
    for (std::size_t i = 0; i < ref.w.size(); ++i) {
      const ld g = g0[i] + (ref.decay[i] ? wd * ref.w[i] : 0.0L);
      sum[i] += g * g;
      ref.w[i] -= clr * g / (std::sqrt(sum[i]) + eps);
    }
    ada.step();
  }
  ref.check(p, 1e-10);
}

TEST_CASE("optimizer state round-trips so a restored optimizer continues identically") {
  Problem a, b;
  mlp::Adam<double> adam_a(a.refs(), {});
  for (int t = 1; t <= 3; ++t) a.set_grads(t), adam_a.step();
  b.w = a.w;
  b.b = a.b;
  mlp::Adam<double> adam_b(b.refs(), {});
  adam_b.load_state_dict(adam_a.state_dict(), adam_a.steps());
  for (int t = 4; t <= 6; ++t) {
    a.set_grads(t), adam_a.step();
    b.set_grads(t), adam_b.step();
  }
  CHECK(a.w == b.w);
  CHECK(a.b == b.b);
  const auto state = adam_a.state_dict();
  REQUIRE(state.size() == 4);
  CHECK(state[0].name == "w.exp_avg");
  CHECK(state[3].name == "b.exp_avg_sq");
  auto wrong = state;
  wrong[0].value.resize(1, 1);
  CHECK_THROWS_WITH_AS(adam_b.load_state_dict(wrong, 3),
                       doctest::Contains("optimizer state 'w.exp_avg' has shape 1 x 1, the parameter has 2 x 3"),
                       mlp::InvalidArgument);
}

TEST_CASE("optimizer hyperparameters are validated with the value in the message") {
  Problem p;
  CHECK_THROWS_WITH_AS(mlp::SGD<double>(p.refs(), {0.1, 1.5, false, 0.0}),
                       "SGD momentum has to be in [0, 1), but got 1.5", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::SGD<double>(p.refs(), {0.1, 0.0, true, 0.0}),
                       "Nesterov momentum needs momentum > 0", mlp::InvalidArgument);
  mlp::AdamOptions o;
  o.beta2 = 1.0;
  CHECK_THROWS_WITH_AS(mlp::Adam<double>(p.refs(), o), "Adam beta2 has to be in [0, 1), but got 1",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::SGD<double>(p.refs(), {-0.1, 0.0, false, 0.0}),
                       "learning rate has to be >= 0, but got -0.1", mlp::InvalidArgument);
}

TEST_CASE("an optimizer whose parameter matrix was replaced says so instead of updating stale memory") {
  Problem p;
  mlp::SGD<double> sgd(p.refs(), {0.1, 0.0, false, 0.0});
  MatrixD replacement = MatrixD::Ones(2, 3);
  p.w = std::move(replacement);  // a move-assignment takes over the other matrix's buffer
  CHECK_THROWS_WITH_AS(sgd.step(), doctest::Contains("parameter 'w' no longer points at its layer's storage"),
                       mlp::RuntimeError);
  Problem q;
  mlp::SGD<double> attached(q.refs(), {0.1, 0.0, false, 0.0});
  q.w = MatrixD::Ones(2, 3);  // a copy of the same shape writes into the storage: still attached
  q.gw.setOnes();
  attached.step();
  CHECK(q.w(0, 0) == doctest::Approx(0.9));
}

TEST_CASE("AdamW is its own optimizer with PyTorch's default weight decay; names follow PyTorch") {
  Problem p;
  mlp::AdamW<double> adamw(p.refs(), {});
  CHECK(adamw.hyperparameters().at("weight_decay") == 0.01);
  CHECK(adamw.base_lr() == 1e-3);
  mlp::RMSprop<double> rms(p.refs(), {});
  mlp::Adagrad<double> ada(p.refs(), {});
  CHECK(rms.name() == "rmsprop");
  CHECK(ada.name() == "adagrad");
}
