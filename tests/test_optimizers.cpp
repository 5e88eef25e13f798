// Optimizers against the published update rules. Each reference below is written independently of
// the library, element by element in long double, straight from PyTorch's documented algorithm;
// the tests run several steps on two tensors (one decayed weight, one bias) with changing
// gradients, so a bias correction advanced per tensor, or decay applied to the bias, would show.
#include "helpers.hpp"

#include <mlp/optim/adagrad.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/rmsprop.hpp>
#include <mlp/optim/sgd.hpp>

#include <mlp/detail/exact_sqrt.hpp>
#include <mlp/detail/prefetch.hpp>
#include <mlp/detail/vector_blocks.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

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

// In float the (1 - beta) factors, AdamW's shrink and RMSprop's (1 - alpha) are PyTorch's: computed in
// double, then rounded (1.0f - 0.999f is 0.00099998713, 1.3e-5 below PyTorch's 0.001f, which made
// exp_avg_sq that much smaller at every step). The expected values are PyTorch 1.13's, float32, same
// tensors, gradients and parameter groups (weight decay on w only), after 3 steps.
TEST_CASE("Adam, AdamW and RMSprop in float give PyTorch's float32 state over 3 steps") {
  struct Expected {
    std::vector<float> w, b, w_state0, b_state0, w_state1, b_state1;
  };
  const auto run = [](mlp::Optimizer<float>& opt, mlp::Matrix<float>& w, mlp::Matrix<float>& b, mlp::Matrix<float>& gw,
                      mlp::Matrix<float>& gb, const Expected& e) {
    for (int t = 1; t <= 3; ++t) {
      for (mlp::Index i = 0; i < gw.size(); ++i) gw.data()[i] = static_cast<float>(std::sin(1.0 + i + 0.7 * t));
      for (mlp::Index i = 0; i < gb.size(); ++i) gb.data()[i] = static_cast<float>(0.3 * std::cos(2.0 + i - 0.4 * t));
      opt.step();
    }
    const auto state = opt.state_dict();
    REQUIRE(state.size() == 4);
    const auto same = [](const float* got, const std::vector<float>& want, double tol) {
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("element ", i);
        CHECK(std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])) <= tol * std::abs(static_cast<double>(want[i])));
      }
    };
    // a few float roundings apart at most: 5e-7, where the old (1 - beta2) was 1.3e-5 off
    same(w.data(), e.w, 5e-7);
    same(b.data(), e.b, 5e-7);
    same(state[0].value.data(), e.w_state0, 5e-7);
    same(state[1].value.data(), e.b_state0, 5e-7);
    same(state[2].value.data(), e.w_state1, 5e-7);
    same(state[3].value.data(), e.b_state1, 5e-7);
  };
  for (int variant = 0; variant < 3; ++variant) {
    mlp::Matrix<float> w(2, 3), b(2, 1), gw(2, 3), gb(2, 1);
    w << 0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f;
    b << 0.1f, -0.2f;
    const std::vector<mlp::TensorRef<float>> refs{mlp::tensor_ref<float>("w", w, &gw, true),
                                                  mlp::tensor_ref<float>("b", b, &gb, false)};
    INFO("variant ", variant);
    if (variant == 0) {
      mlp::Adam<float> adam(refs, {0.01, 0.9, 0.999, 1e-8, 0.1});
      run(adam, w, b, gw, gb,
          {{0.472281009f, 0.241739869f, -0.970247388f, -0.721460104f, 2.00426412f, 1.47044432f},
           {0.0949974209f, -0.171545491f},
           {0.15853709f, -0.0636493638f, -0.2479541f, -0.188795149f, 0.0931705013f, 0.251028448f},
           {0.0299753118f, -0.0435279906f},
           {0.00161524781f, 0.000889080926f, 0.00254679355f, 0.00193455815f, 0.00108830794f, 0.00265358016f},
           {5.55680745e-05f, 0.000101735888f}});
    } else if (variant == 1) {
      mlp::AdamW<float> adamw(refs, {0.01, 0.9, 0.999, 1e-8, 0.1});
      run(adamw, w, b, gw, gb,
          {{0.47106716f, 0.242026016f, -0.967386127f, -0.719479322f, 2.00630403f, 1.46626306f},
           {0.0949974209f, -0.171545491f},
           {0.145274609f, -0.0702086464f, -0.221142381f, -0.168758839f, 0.0387808084f, 0.210665554f},
           {0.0299753118f, -0.0435279906f},
           {0.00143895659f, 0.000917101919f, 0.00204193918f, 0.00162759889f, 0.00084761437f, 0.00191113073f},
           {5.55680745e-05f, 0.000101735888f}});
    } else {
      mlp::RMSpropOptions o;
      o.lr = 0.01;
      o.alpha = 0.999;
      o.weight_decay = 0.1;
      o.centered = true;
      mlp::RMSprop<float> rmsprop(refs, o);
      run(rmsprop, w, b, gw, gb,
          {{-0.00264247879f, 0.357965052f, -0.215320542f, -0.194248319f, 1.81357336f, 0.691837907f},
           {-0.179592103f, 0.363305748f},
           {0.00156560459f, 0.000927473302f, 0.00237074029f, 0.00186113722f, 0.00112429517f, 0.002465219f},
           {5.55680745e-05f, 0.000101735888f},
           {0.00177510211f, -0.000619494065f, -0.00261476147f, -0.00209446135f, 0.000936176511f, 0.00263025542f},
           {0.000308868301f, -0.000501087168f}});
    }
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
  // a running average of squares below zero (a corrupt checkpoint made every later step NaN)
  auto negative = state;
  negative[3].value(0, 0) = -1e-8;
  CHECK_THROWS_WITH_AS(adam_b.load_state_dict(negative, 3),
                       "optimizer state 'b.exp_avg_sq' holds negative values, which a running sum or average of "
                       "squares cannot",
                       mlp::InvalidArgument);
  negative = state;
  negative[0].value(0, 0) = -1e-8;  // a first moment may be negative
  adam_b.load_state_dict(negative, 3);
  auto unknown = state;
  unknown.push_back({"w.momentum_buffer", state[0].value});
  CHECK_THROWS_WITH_AS(adam_b.load_state_dict(unknown, 3),
                       "optimizer state has a tensor 'w.momentum_buffer' that is none of this adam optimizer's buffers",
                       mlp::InvalidArgument);
  auto infinite = state;
  infinite[0].value(1, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(adam_b.load_state_dict(infinite, 3), "optimizer state 'w.exp_avg' holds non-finite values",
                       mlp::InvalidArgument);
  Problem r;
  r.set_grads(1);
  mlp::RMSprop<double> rms(r.refs(), {});
  rms.step();
  auto rms_state = rms.state_dict();
  rms_state[0].value(0, 0) = -1.0;
  CHECK_THROWS_WITH_AS(rms.load_state_dict(rms_state, 1), doctest::Contains("'w.square_avg' holds negative values"),
                       mlp::InvalidArgument);
  mlp::Adagrad<double> ada(r.refs(), {});
  ada.step();
  auto ada_state = ada.state_dict();
  ada_state[0].value(0, 0) = -1.0;
  CHECK_THROWS_WITH_AS(ada.load_state_dict(ada_state, 1), doctest::Contains("'w.sum' holds negative values"),
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
  // infinite values in range (Adam with eps = inf trained without moving a weight)
  const double inf = std::numeric_limits<double>::infinity();
  mlp::AdamOptions infinite_eps;
  infinite_eps.eps = inf;
  CHECK_THROWS_WITH_AS(mlp::Adam<double>(p.refs(), infinite_eps), "Adam eps has to be positive and finite, but got inf",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::SGD<double>(p.refs(), {0.1, 0.0, false, inf}),
                       "SGD weight_decay has to be >= 0 and finite, but got inf", mlp::InvalidArgument);
  mlp::AdagradOptions accumulator;
  accumulator.initial_accumulator_value = inf;
  CHECK_THROWS_WITH_AS(mlp::Adagrad<double>(p.refs(), accumulator), doctest::Contains("and finite, but got inf"),
                       mlp::InvalidArgument);
  mlp::RMSpropOptions rms_eps;
  rms_eps.eps = inf;
  CHECK_THROWS_WITH_AS(mlp::RMSprop<double>(p.refs(), rms_eps), "RMSprop eps has to be positive and finite, but got inf",
                       mlp::InvalidArgument);
  o.beta2 = std::nan("");
  CHECK_THROWS_WITH_AS(mlp::Adam<double>(p.refs(), o), "Adam beta2 has to be in [0, 1), but got nan",
                       mlp::InvalidArgument);
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

namespace {

// A user's optimizer: its update throws while `fail` is set, and it may name more buffers than an
// optimizer may have.
class UsersOptimizer final : public mlp::Optimizer<double> {
 public:
  UsersOptimizer(std::vector<mlp::TensorRef<double>> params, std::vector<std::string> buffers)
      : Optimizer(std::move(params), 0.1), buffers_named_(std::move(buffers)) {}
  bool fail = false;
  std::string_view name() const override { return "users"; }
  std::map<std::string, double> hyperparameters() const override { return {{"lr", base_lr()}}; }

 protected:
  void update() override {
    if (fail) throw std::runtime_error("users: transient failure");
    for (std::size_t b = 0; b < buffers_named_.size(); ++b) buffer(b);
  }
  std::vector<std::string> buffer_names() const override { return buffers_named_; }

 private:
  std::vector<std::string> buffers_named_;
};

}  // namespace

// A throw in update() counted the step (the Trainer's count and the optimizer's then disagreed, and
// every later checkpoint was refused by resume()); a fifth buffer indexed past a std::array of 4.
TEST_CASE("an optimizer's step that throws is not counted, and a fifth buffer is refused") {
  Problem p;
  UsersOptimizer users(p.refs(), {"a", "b"});
  users.step();
  users.fail = true;
  CHECK_THROWS_WITH(users.step(), "users: transient failure");
  CHECK(users.steps() == 1);
  users.fail = false;
  users.step();
  CHECK(users.steps() == 2);
  CHECK(users.state_dict().size() == 2 * p.refs().size());  // two buffers of each tensor

  UsersOptimizer five(p.refs(), {"a", "b", "c", "d", "e"});
  CHECK_THROWS_WITH_AS(five.step(), "optimizer users: buffer(4) is past the 4 buffers an optimizer may have",
                       mlp::RuntimeError);
  CHECK_THROWS_WITH_AS(five.state_dict(),
                       "optimizer users names 5 buffers in buffer_names(); an optimizer may have at most 4",
                       mlp::RuntimeError);
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

namespace {

// The statements of Adam's update (coupled weight decay) over [begin, end) of the arrays.
template <class S>
void adam_like_statements(S* w, S* m, S* v, const S* g, mlp::Index begin, mlp::Index end) {
  using A = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
  const mlp::Index n = end - begin;
  A wa(w + begin, n), ma(m + begin, n), va(v + begin, n);
  const Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> ga(g + begin, n);
  const S b1 = S(0.9), b2 = S(0.999), wd = S(0.01), eps = S(1e-8), step = S(0.0013), k = S(1.7);
  ma = b1 * ma + (S(1) - b1) * (ga + wd * wa);
  va = b2 * va + (S(1) - b2) * (ga + wd * wa) * (ga + wd * wa);
  wa -= step * ma / (mlp::detail::exact_sqrt(va) / k + eps);
}

template <class S>
void check_vector_blocks() {
  const mlp::Index size = 6000;
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> value(-2.0, 2.0);
  // Four arrays in one aligned allocation; each starts `shift` elements past its aligned slot.
  Eigen::Matrix<S, Eigen::Dynamic, 1> storage(4 * (size + 64));
  for (mlp::Index i = 0; i < storage.size(); ++i) storage[i] = static_cast<S>(value(gen));
  storage = storage.cwiseAbs().eval().cwiseMax(S(0.01));
  for (mlp::Index shift : {0, 1, 3, 7, 9}) {
    for (bool equal : {true, false}) {
      for (mlp::Index begin : {0, 5, 4096}) {
        for (mlp::Index end : {begin + 1, begin + 17, begin + 700, size}) {
          for (mlp::Index block : {16, 512}) {
            auto slot = [&](Eigen::Matrix<S, Eigen::Dynamic, 1>& data, int a) {
              return data.data() + a * (size + 64) + shift + (equal || a != 1 ? 0 : 1);
            };
            Eigen::Matrix<S, Eigen::Dynamic, 1> whole = storage, blocked = storage;
            adam_like_statements(slot(whole, 0), slot(whole, 1), slot(whole, 2), slot(whole, 3), begin, end);
            mlp::Index covered = begin, blocks = 0;
            S* w = slot(blocked, 0);
            S* m = slot(blocked, 1);
            S* v = slot(blocked, 2);
            const S* g = slot(blocked, 3);
            mlp::detail::for_each_vector_block<S>(begin, end, block, {w, m, v}, [&](mlp::Index b, mlp::Index e) {
              CHECK(b == covered);
              CHECK(e > b);
              covered = e;
              ++blocks;
              adam_like_statements(w, m, v, g, b, e);
            });
            INFO("shift ", shift, ", equal ", equal, ", [", begin, ", ", end, "), block ", block);
            CHECK(covered == end);
            if (!equal) CHECK(blocks == 1);  // unequally aligned arrays run as one block
            if (equal && end - begin > 2 * block) CHECK(blocks > 1);
            CHECK(std::memcmp(whole.data(), blocked.data(), sizeof(S) * static_cast<std::size_t>(whole.size())) == 0);
          }
        }
      }
    }
  }
}

// Adam's update as it was before the blocks: the statements over whole chunks of 4,096 (with the
// (1 - beta) factors and AdamW's shrink rounded from double, as the library now computes them).
struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
};
// w, m, v and g point at n floats each.
void adam_by_chunks(float* w, float* m, float* v, const float* g, mlp::Index n_all, int t, const AdamHyper& h,
                    bool decay, bool decoupled) {
  const double bc1 = 1.0 - std::pow(h.beta1, t), bc2 = 1.0 - std::pow(h.beta2, t);
  const float step_size = static_cast<float>(h.lr / bc1), sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
  const float b1 = static_cast<float>(h.beta1), b2 = static_cast<float>(h.beta2), eps = static_cast<float>(h.eps);
  const float c1 = static_cast<float>(1.0 - h.beta1), c2 = static_cast<float>(1.0 - h.beta2);  // PyTorch's (1 - beta)
  const float wd = decay ? static_cast<float>(h.weight_decay) : 0.0f;
  const float shrink = static_cast<float>(1.0 - h.lr * h.weight_decay);
  for (mlp::Index begin = 0; begin < n_all; begin += 4096) {
    const mlp::Index n = std::min<mlp::Index>(4096, n_all - begin);
    Eigen::Map<mlp::Array<float>> wa(w + begin, n), ma(m + begin, n), va(v + begin, n);
    const Eigen::Map<const mlp::Array<float>> ga(g + begin, n);
    if (wd != 0.0f && decoupled) wa *= shrink;
    if (wd != 0.0f && !decoupled) {
      ma = b1 * ma + c1 * (ga + wd * wa);
      va = b2 * va + c2 * (ga + wd * wa) * (ga + wd * wa);
    } else {
      ma = b1 * ma + c1 * ga;
      va = b2 * va + c2 * ga * ga;
    }
    wa -= step_size * ma / (mlp::detail::exact_sqrt(va) / sqrt_bc2 + eps);
  }
}

}  // namespace

// Eigen's own sqrt() is an estimate on x86 packets (EIGEN_FAST_MATH) and std::sqrt on a block's
// tail, so it fails this: every element, wherever it sits, gets std::sqrt's correctly rounded value.
template <class S>
void check_exact_sqrt() {
  std::vector<S> values{S(0), -S(0), S(1), S(2), S(4), S(1e-3), S(0.999), std::numeric_limits<S>::min(),
                        std::numeric_limits<S>::denorm_min(), std::numeric_limits<S>::min() / S(3),
                        std::numeric_limits<S>::max(), std::numeric_limits<S>::infinity()};
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> exponent(-40.0, 30.0), mantissa(1.0, 10.0);
  while (values.size() < 1000) values.push_back(static_cast<S>(mantissa(gen) * std::pow(10.0, exponent(gen))));
  for (std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
    const auto n = static_cast<mlp::Index>(values.size() - offset);  // odd and even lengths, every alignment
    const Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> a(values.data() + offset, n);
    const Eigen::Array<S, Eigen::Dynamic, 1> r = mlp::detail::exact_sqrt(a);
    const Eigen::Array<S, Eigen::Dynamic, 1> r2 = mlp::detail::exact_sqrt(a * S(2)) / S(2);  // inside an expression
    int wrong = 0, wrong2 = 0;
    for (mlp::Index i = 0; i < n; ++i) {
      const S want = std::sqrt(a(i)), want2 = std::sqrt(a(i) * S(2)) / S(2);
      if (std::memcmp(&want, &r(i), sizeof(S)) != 0) ++wrong;
      if (std::memcmp(&want2, &r2(i), sizeof(S)) != 0) ++wrong2;
    }
    INFO("offset ", offset);
    CHECK(wrong == 0);
    CHECK(wrong2 == 0);
  }
  const Eigen::Array<S, 3, 1> negative(S(-1), std::numeric_limits<S>::quiet_NaN(), -std::numeric_limits<S>::infinity());
  CHECK(mlp::detail::exact_sqrt(negative).isNaN().all());
}

TEST_CASE("exact_sqrt gives std::sqrt's bits for every element, float and double, denormals included") {
  check_exact_sqrt<float>();
  check_exact_sqrt<double>();
}

TEST_CASE("for_each_vector_block: statements run block by block give the bits of the whole range") {
  check_vector_blocks<float>();
  check_vector_blocks<double>();
}

// The optimizers' hint (on more than one thread) only asks for lines: a version that wrote them to
// take them over (say += 0) would turn -0 into +0 and quiet a signaling NaN.
TEST_CASE("prefetch_for_write leaves every value as it was, at any offset and length") {
  std::vector<float> values(200);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = i % 3 == 0 ? -0.0f : i % 3 == 1 ? std::numeric_limits<float>::signaling_NaN() : 1e-41f;
  }
  std::vector<float> before = values;
  for (mlp::Index offset = 0; offset < 20; ++offset) {
    for (mlp::Index n = 0; n + offset <= 180; n += 7) mlp::detail::prefetch_for_write(values.data() + offset, n);
  }
  CHECK(std::memcmp(values.data(), before.data(), values.size() * sizeof(float)) == 0);
}

// The bits of the blocks against whole chunks are for_each_vector_block's test above (the same
// statements compiled once, run both ways). Here the update is checked against whole chunks written
// in this file: bit for bit where the compiler cannot fuse a product into a multiply-add (no FMA),
// within 2 ulp where it can, since it may fuse differently in this file's copy of the statements.
// And the blocks split the same way at 1 and 2 threads.
TEST_CASE("Adam and AdamW block by block compute whole chunks' update, the same bits at 1 and 2 threads") {
  // A weight of 3 chunks and a bit (its storage aligned as the optimizer's state or one float off),
  // a bias and a weight of 5 chunks; 3 steps with changing gradients. At 2 threads the first two run
  // whole, each on one thread, and the last one's chunks are split between the threads
  // (detail::for_each_item_chunk).
  const mlp::Index rows = 61, cols = 150, wide_cols = 330;
  const auto n = static_cast<std::size_t>(rows * cols);
  for (bool decoupled : {false, true}) {
    for (mlp::Index shift : {0, 1}) {
      std::vector<float> at_one_thread;
      for (int threads : {1, 2}) {
        const mlp_test::ThreadCount scope(threads);
        Eigen::VectorXf w_store = Eigen::VectorXf::LinSpaced(rows * cols + 16, -1.0f, 1.3f);
        Eigen::VectorXf g_store(rows * cols + 16), b(7), gb(7);
        b.setConstant(0.25f);
        Eigen::VectorXf w2 = Eigen::VectorXf::LinSpaced(rows * wide_cols, 0.7f, 0.2f), g2(rows * wide_cols);
        mlp::TensorRef<float> wr{"w", w_store.data() + shift, g_store.data() + shift, rows, cols, true};
        mlp::TensorRef<float> br{"b", b.data(), gb.data(), 7, 1, false};
        mlp::TensorRef<float> w2r{"w2", w2.data(), g2.data(), rows, wide_cols, true};
        const AdamHyper hyper{0.003, 0.9, 0.999, 1e-8, 0.05};
        std::unique_ptr<mlp::Optimizer<float>> adam;
        const std::vector<mlp::TensorRef<float>> refs{wr, br, w2r};
        if (decoupled) {
          adam = std::make_unique<mlp::AdamW<float>>(refs, mlp::AdamWOptions{0.003, 0.9, 0.999, 1e-8, 0.05});
        } else {
          adam = std::make_unique<mlp::Adam<float>>(refs, mlp::AdamOptions{0.003, 0.9, 0.999, 1e-8, 0.05});
        }
        // The reference's arrays are aligned as the optimizer's: w and g shifted as wr, m and v as its state.
        Eigen::VectorXf w_ref = w_store, g_ref(rows * cols + 16), m_ref = Eigen::VectorXf::Zero(rows * cols);
        Eigen::VectorXf v_ref = m_ref, bw = b, bm = Eigen::VectorXf::Zero(7), bv = bm, bg(7);
        Eigen::VectorXf w2_ref = w2, m2_ref = Eigen::VectorXf::Zero(rows * wide_cols), v2_ref = m2_ref;
        for (int t = 1; t <= 3; ++t) {
          for (std::size_t i = 0; i < n; ++i) {
            wr.grad[i] = g_ref[shift + static_cast<mlp::Index>(i)] = std::sin(0.37f * static_cast<float>(i) + static_cast<float>(t));
          }
          for (mlp::Index i = 0; i < 7; ++i) bg[i] = gb[i] = 0.1f * static_cast<float>(i) - 0.2f;
          for (mlp::Index i = 0; i < g2.size(); ++i) g2[i] = std::cos(0.11f * static_cast<float>(i) - static_cast<float>(t));
          adam->step();
          adam_by_chunks(w_ref.data() + shift, m_ref.data(), v_ref.data(), g_ref.data() + shift, rows * cols, t, hyper, true, decoupled);
          adam_by_chunks(bw.data(), bm.data(), bv.data(), bg.data(), 7, t, hyper, false, decoupled);
          adam_by_chunks(w2_ref.data(), m2_ref.data(), v2_ref.data(), g2.data(), g2.size(), t, hyper, true, decoupled);
        }
        const float* w = w_ref.data() + shift;
        INFO("decoupled ", decoupled, ", shift ", shift, ", threads ", threads);
#ifdef __FMA__
        float worst = 0.0f;
        for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(w[i] - wr.value[i]) / std::abs(w[i]));
        for (std::size_t i = 0; i < 7; ++i) worst = std::max(worst, std::abs(bw[i] - b[static_cast<mlp::Index>(i)]) / std::abs(bw[i]));
        for (mlp::Index i = 0; i < w2.size(); ++i) worst = std::max(worst, std::abs(w2_ref[i] - w2[i]) / std::abs(w2_ref[i]));
        CHECK(worst <= 2.0f * std::numeric_limits<float>::epsilon());
#else
        CHECK(std::memcmp(w, wr.value, sizeof(float) * n) == 0);
        CHECK(std::memcmp(bw.data(), b.data(), sizeof(float) * 7) == 0);
        CHECK(std::memcmp(w2_ref.data(), w2.data(), sizeof(float) * static_cast<std::size_t>(w2.size())) == 0);
#endif
        std::vector<float> all(wr.value, wr.value + n);
        all.insert(all.end(), b.data(), b.data() + 7);
        all.insert(all.end(), w2.data(), w2.data() + w2.size());
        if (threads == 1) {
          at_one_thread = all;
        } else {
          CHECK(std::memcmp(at_one_thread.data(), all.data(), sizeof(float) * all.size()) == 0);
        }
      }
    }
  }
}

// SGD, RMSprop and Adagrad update on the library's threads in blocks, as Adam does
// (Optimizer::for_each_block): the same bits at 1 and 2 threads. (That the blocks compute what
// the statements over whole tensors computed before is for_each_vector_block's test above; the
// rules themselves are checked against PyTorch's above.)
TEST_CASE("SGD, RMSprop and Adagrad give the same bits at 1 and 2 threads") {
  using Make = std::function<std::unique_ptr<mlp::Optimizer<float>>(const std::vector<mlp::TensorRef<float>>&)>;
  struct Case {
    const char* name;
    Make make;
  };
  const auto sgd = [](mlp::SGDOptions o) -> Make {
    return [o](const auto& refs) { return std::make_unique<mlp::SGD<float>>(refs, o); };
  };
  const auto rmsprop = [](mlp::RMSpropOptions o) -> Make {
    return [o](const auto& refs) { return std::make_unique<mlp::RMSprop<float>>(refs, o); };
  };
  const auto adagrad = [](mlp::AdagradOptions o) -> Make {
    return [o](const auto& refs) { return std::make_unique<mlp::Adagrad<float>>(refs, o); };
  };
  const std::vector<Case> cases = {
      {"SGD, decay", sgd({0.05, 0.0, false, 0.01})},
      {"SGD momentum", sgd({0.05, 0.9, false, 0.0})},
      {"SGD Nesterov, decay", sgd({0.05, 0.9, true, 0.01})},
      {"RMSprop", rmsprop({0.01, 0.99, 1e-8, 0.0, 0.0, false})},
      {"RMSprop centered, momentum, decay", rmsprop({0.01, 0.9, 1e-8, 0.01, 0.8, true})},
      {"Adagrad, lr decay", adagrad({0.05, 0.01, 0.0, 0.1, 1e-10})},
      {"Adagrad, decay", adagrad({0.05, 0.0, 0.01, 0.0, 1e-10})},
  };
  // A weight of 5 chunks and a bit (split between the threads: detail::for_each_item_chunk) and a
  // bias (whole on one thread); 3 steps with changing gradients.
  const mlp::Index rows = 61, cols = 340;
  for (const Case& c : cases) {
    std::vector<float> at_one_thread;
    for (int threads : {1, 2}) {
      const mlp_test::ThreadCount scope(threads);
      mlp::Matrix<float> w = mlp::Matrix<float>::Zero(rows, cols), gw(rows, cols), b(7, 1), gb(7, 1);
      for (mlp::Index i = 0; i < w.size(); ++i) w.data()[i] = std::sin(0.13f * static_cast<float>(i));
      b.setConstant(0.25f);
      const std::vector<mlp::TensorRef<float>> refs{{"w", w.data(), gw.data(), rows, cols, true},
                                                    {"b", b.data(), gb.data(), 7, 1, false}};
      auto blocked = c.make(refs);
      for (int t = 1; t <= 3; ++t) {
        for (mlp::Index i = 0; i < gw.size(); ++i) {
          gw.data()[i] = std::cos(0.07f * static_cast<float>(i) + static_cast<float>(t));
        }
        for (mlp::Index i = 0; i < 7; ++i) gb(i, 0) = 0.1f * static_cast<float>(i) - 0.2f;
        blocked->step();
      }
      std::vector<float> all(w.data(), w.data() + w.size());
      all.insert(all.end(), b.data(), b.data() + 7);
      INFO(c.name, ", threads ", threads);
      for (float v : all) REQUIRE(std::isfinite(v));
      if (threads == 1) {
        at_one_thread = all;
      } else {
        CHECK(std::memcmp(at_one_thread.data(), all.data(), sizeof(float) * all.size()) == 0);
      }
    }
  }
}
