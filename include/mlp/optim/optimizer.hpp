// The optimizer contract. An optimizer holds non-owning views of the parameters (value, grad,
// shape, decay) and per-parameter state index-aligned with them. One step() is one time step:
// Adam's t advances once per call, never once per tensor.
//
// The learning rate has one source: the optimizer's options give its base rate (base_lr(), fixed,
// PyTorch's `initial_lr`); a schedule maps the base rate to the rate of each step, and only the
// trainer (or your loop) writes that into the optimizer with set_lr().
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/detail/parallel.hpp"
#include "mlp/detail/prefetch.hpp"
#include "mlp/detail/vector_blocks.hpp"
#include "mlp/layers/layer.hpp"
#include "mlp/model/state_dict.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mlp {

template <class S>
using Array = Eigen::Array<S, Eigen::Dynamic, 1>;  // flat element-wise view of a tensor

template <class S>
class Trainer;

template <class S = float>
class Optimizer {
 public:
  Optimizer(std::vector<TensorRef<S>> params, double lr) : params_(std::move(params)), lr_(lr) {
    write_lr(lr);
    base_lr_ = lr;
    for (const auto& p : params_) {
      detail::require(p.value != nullptr && p.grad != nullptr, "optimizer parameter '", p.name,
                      "' has no value or gradient");
    }
  }
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  // Applies one update to every parameter from its current gradient.
  void step() {
    for (const auto& p : params_) p.check_attached("optimizer");
    ++steps_;
    try {
      update();
    } catch (...) {  // (a Trainer's step count stays the optimizer's: a checkpoint holds both)
      --steps_;
      throw;
    }
  }

  // Only the trainer (or your loop) writes the learning rate; schedules never touch the optimizer.
  void set_lr(double lr) {
    write_lr(lr);
    ++lr_writes_;
    lr_set_ = true;
  }
  // How many times set_lr was called, and whether it wrote the rate last. A Trainer writes the rate
  // of each step itself (neither counted nor marked here), and refuses a rate set_lr wrote that its
  // next step would overwrite without a word.
  std::uint64_t lr_writes() const { return lr_writes_; }
  bool lr_set() const { return lr_set_; }
  double lr() const { return lr_; }
  double base_lr() const { return base_lr_; }
  std::int64_t steps() const { return steps_; }
  const std::vector<TensorRef<S>>& parameters() const { return params_; }

  virtual std::string_view name() const = 0;
  // Hyperparameters, for logs and checkpoints: {"lr": base lr, "momentum": ...}.
  virtual std::map<std::string, double> hyperparameters() const = 0;

  // Per-parameter state as named tensors "<param>.<buffer>" (empty until the first step), so a
  // checkpoint can resume bit for bit.
  StateDict<S> state_dict() const {
    StateDict<S> state;
    const auto names = checked_buffer_names();
    for (std::size_t b = 0; b < names.size(); ++b) {
      const auto& buffers = buffers_[b];
      for (std::size_t i = 0; i < buffers.size(); ++i) {
        state.push_back({params_[i].name + "." + names[b], buffers[i]});
      }
    }
    return state;
  }

  void load_state_dict(const StateDict<S>& state, std::int64_t steps) {
    const auto names = checked_buffer_names();
    std::array<std::vector<Matrix<S>>, kMaxBuffers> loaded;
    for (std::size_t b = 0; b < names.size(); ++b) {
      for (const auto& p : params_) {
        const NamedTensor<S>* t = find_tensor(state, p.name + "." + names[b]);
        if (t == nullptr) {
          detail::require(loaded[b].empty(), "optimizer state has no tensor '",
                          p.name + "." + names[b], "'");
          continue;  // this buffer was never created (no step yet)
        }
        detail::require(t->value.rows() == p.rows && t->value.cols() == p.cols,
                        "optimizer state '", t->name, "' has shape ",
                        shape_string(t->value.rows(), t->value.cols()), ", the parameter has ",
                        shape_string(p.rows, p.cols));
        detail::require(t->value.allFinite(), "optimizer state '", t->name, "' holds non-finite values");
        // (a negative running square made Adam's steps NaN, and the run "diverged")
        detail::require(!non_negative_buffer(b) || (t->value.array() >= S(0)).all(), "optimizer state '", t->name,
                        "' holds negative values, which a running sum or average of squares cannot");
        loaded[b].push_back(t->value);
      }
      detail::require(loaded[b].empty() || loaded[b].size() == params_.size(),
                      "optimizer state for '", names[b], "' covers ", loaded[b].size(), " of ",
                      params_.size(), " parameters");
    }
    // (as a model's load_state_dict: a tensor no buffer takes means the state is another optimizer's)
    for (const auto& t : state) {
      bool known = false;
      for (std::size_t b = 0; b < names.size() && !known; ++b) {
        for (const auto& p : params_) known = known || t.name == p.name + "." + names[b];
      }
      detail::require(known, "optimizer state has a tensor '", t.name, "' that is none of this ", name(),
                      " optimizer's buffers");
    }
    detail::require(steps >= 0, "optimizer step count has to be >= 0, but got ", steps);
    buffers_ = std::move(loaded);
    steps_ = steps;
  }

 protected:
  template <class>
  friend class Trainer;
  void write_lr(double lr) {
    detail::require(std::isfinite(lr) && lr >= 0.0, "learning rate has to be >= 0, but got ", lr);
    lr_ = lr;
    lr_set_ = false;
  }

  virtual void update() = 0;
  // Names of the per-parameter buffers ("momentum_buffer", "exp_avg", ...).
  virtual std::vector<std::string> buffer_names() const = 0;
  // Whether buffer b (of buffer_names()) is a sum or average of squares, never negative.
  virtual bool non_negative_buffer(std::size_t b) const {
    (void)b;
    return false;
  }

  // Buffer b of every parameter, created as zeros (or `fill`) on first use.
  std::vector<Matrix<S>>& buffer(std::size_t b, S fill = S(0)) {
    detail::require<RuntimeError>(b < kMaxBuffers, "optimizer ", name(), ": buffer(", b, ") is past the ", kMaxBuffers,
                                  " buffers an optimizer may have");
    if (buffers_[b].empty()) {
      for (const auto& p : params_) buffers_[b].push_back(Matrix<S>::Constant(p.rows, p.cols, fill));
    }
    return buffers_[b];
  }
  bool has_buffer(std::size_t b) const { return b < kMaxBuffers && !buffers_[b].empty(); }

  // fn(i, begin, end) over every parameter tensor i in blocks [begin, end) of its elements, on the
  // library's threads: chunks of 4,096 elements of all tensors share the threads in one parallel
  // region (detail::for_each_item_chunk), and within a chunk the update's statements run on blocks
  // of about 512 elements (8 KB per array), so that each element is read from memory once and the
  // statements after the first find it in the L1 cache: memory, not arithmetic, limits these
  // updates. `written(i)` gives the N arrays the statements write for tensor i (its value, its
  // buffers): the blocks start where Eigen's loops over them would start whole packets, so every
  // element is computed as by the whole chunk (detail::for_each_vector_block), at any thread count.
  // On more than one thread, each block's parameter values are asked for with the intent to write
  // them before fn runs: the forward's products read a weight's lines on the other cores too (they
  // cut it by rows, the update by runs of columns), and the update's last statement would otherwise
  // wait for each line's copy there to be invalidated in turn (detail::prefetch_for_write). On one
  // thread there is no such copy, and the hints only cost time.
  // Buffers have to exist before (buffer()); none may be created inside fn.
  template <std::size_t N, class Written, class Fn>
  void for_each_block(Written&& written, Fn&& fn) {
    const auto size_of = [&](std::size_t i) { return params_[i].size(); };
    const bool other_cores = thread_count() > 1;
    detail::for_each_item_chunk(params_.size(), size_of, 4096, [&](std::size_t i, Index chunk_begin, Index chunk_end) {
      const std::array<const S*, N> arrays = written(i);
      detail::for_each_vector_block<S>(chunk_begin, chunk_end, 512, arrays.data(), N, [&](Index begin, Index end) {
        if (other_cores) detail::prefetch_for_write(params_[i].value + begin, end - begin);
        fn(i, begin, end);
      });
    });
  }

  // `ok`: the value's range; an infinite value in range is refused too (Adam with eps = inf did not
  // move a weight, and "completed" its epochs).
  static void check_hyper(bool ok, const char* what, double value) {
    detail::require(ok && std::isfinite(value), what, ok ? " and finite" : "", ", but got ", value);
  }

  // buffer_names(), at most kMaxBuffers of them (a user's optimizer with more read past buffers_).
  std::vector<std::string> checked_buffer_names() const {
    std::vector<std::string> names = buffer_names();
    detail::require<RuntimeError>(names.size() <= kMaxBuffers, "optimizer ", name(), " names ", names.size(),
                                  " buffers in buffer_names(); an optimizer may have at most ", kMaxBuffers);
    return names;
  }

  std::vector<TensorRef<S>> params_;
  static constexpr std::size_t kMaxBuffers = 4;
  // [buffer kind][parameter]; a fixed array, so references to one kind survive creating another.
  std::array<std::vector<Matrix<S>>, kMaxBuffers> buffers_;
  double lr_;
  double base_lr_ = 0.0;
  std::int64_t steps_ = 0;
  std::uint64_t lr_writes_ = 0;
  bool lr_set_ = false;
};

}  // namespace mlp
