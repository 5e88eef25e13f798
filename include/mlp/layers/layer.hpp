// The contract every layer implements, and the non-owning view of a tensor the optimizer sees.
//
// A layer maps a batch of B samples, one per column (in.size() x B), to out.size() x B, where `in`
// and `out` are its per-sample shapes (channels x height x width; a feature vector is {f, 1, 1}).
// The base class holds what every layer shares and enforces it in one place:
//   - shapes: bind(input) fixes the input shape and asks the layer for its output shape;
//   - the training protocol: backward() is only allowed after a forward(., Mode::Train) of the same
//     batch with no other forward in between (an Eval forward would have overwritten the caches
//     backward reads), and, for a layer that reads its input again (can_read_kept_input), with no
//     forward of the layer that owns that input (nor a next batch of the loader that owns the
//     model's input) either. Anything else is an mlp::RuntimeError,
//     never silently wrong gradients.
// A layer implements forward_impl / backward_impl; they may assume the checks above have passed.
#pragma once

#include "mlp/core/assert.hpp"
#include "mlp/core/errors.hpp"
#include "mlp/core/precision.hpp"
#include "mlp/core/shape.hpp"
#include "mlp/core/types.hpp"
#include "mlp/core/versioned_matrix.hpp"
#include "mlp/detail/overlaps.hpp"
#include "mlp/layers/layer_config.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlp {

template <class S>
class Sequential;

// A view of one tensor owned by a layer: its value, its gradient (nullptr for buffers such as
// BatchNorm's running statistics), its shape, and whether weight decay / L1 / L2 apply to it
// (true for Linear and Conv2d weights only). Optimizer state is index-aligned with a list of these.
// The owner pointers let users of a view check that it still points at the layer's storage: a
// weight matrix replaced by a move-assignment or a resize leaves the view stale, and attached()
// says so instead of letting an optimizer update memory nobody reads.
template <class S = float>
struct TensorRef {
  std::string name;
  S* value = nullptr;
  S* grad = nullptr;
  Index rows = 0;
  Index cols = 0;
  bool decay = false;
  const Matrix<S>* value_owner = nullptr;
  const Matrix<S>* grad_owner = nullptr;
  // The layer's lifetime (Sequential sets it): once the layer is destroyed, the owners above point at
  // freed memory, so attached() looks at this first (`model = load_model(...).model` after building
  // an optimizer once read the freed matrices).
  std::weak_ptr<const void> layer{};
  bool layer_known = false;

  Index size() const { return rows * cols; }
  bool layer_destroyed() const { return layer_known && layer.expired(); }
  Eigen::Map<Matrix<S>> value_map() const { return {value, rows, cols}; }
  Eigen::Map<Matrix<S>> grad_map() const { return {grad, rows, cols}; }

  bool attached() const {
    if (layer_destroyed()) return false;
    auto same = [this](const Matrix<S>* owner, const S* data) {
      return owner == nullptr || (owner->data() == data && owner->rows() == rows && owner->cols() == cols);
    };
    return same(value_owner, value) && same(grad_owner, grad);
  }
  // Throws naming the tensor when its storage was replaced behind the view's back.
  void check_attached(const char* user, const char* what = "parameter") const {
    detail::require<RuntimeError>(!layer_destroyed(), user, ": ", what, " '", name, "' belongs to a layer that no ",
                                  "longer exists (the model was assigned another, e.g. model = load_model(...).model, ",
                                  "or destroyed); create the ", user, " after changing the model, or load weights ",
                                  "into it with load_model_into");
    detail::require<RuntimeError>(
        attached(), user, ": ", what, " '", name, "' no longer points at its layer's storage (the ",
        "matrix was replaced or resized, e.g. by a move-assignment); assign values into it "
        "(weight() = other copies) or create the ", user, " after changing the model");
  }
};

template <class S>
TensorRef<S> tensor_ref(std::string name, Matrix<S>& value, Matrix<S>* grad, bool decay) {
  return {std::move(name), value.data(), grad ? grad->data() : nullptr, value.rows(), value.cols(),
          decay, &value, grad};
}

template <class S = float>
class Layer {
 public:
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  virtual ~Layer() = default;

  // x: in.size() x B. Returns y: out.size() x B, a buffer the layer owns, unchanged until its next
  // forward (backward must not write it: a layer after it may read it in its backward). A layer not yet bound takes its input shape from x (a feature vector of x.rows()).
  // x must not be the output of the layer's own last forward (or its dL/dx): the forward writes that
  // buffer while it reads x. Copy it first; lin.forward(lin.forward(x, m), m) is refused.
  const Matrix<S>& forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    check_not_own(x, last_output_, "its input is the output of its own last forward", "forward",
                  "Matrix h = layer.forward(x, mode); layer.forward(h, mode)");
    return forward_as(x, mode, false);
  }

  // dy: out.size() x B, dL/dy for the batch of the last forward, which must have been in Train
  // mode. Overwrites the parameter gradients (there is no zero_grad); layers sum over the batch and
  // never average (the loss owns the 1/B). Returns dL/dx: in.size() x B, or an empty matrix when
  // input gradients are switched off. dy must not be the dL/dx of the layer's own last backward.
  const Matrix<S>& backward(const Eigen::Ref<const Matrix<S>>& dy) {
    check_backward(dy, false);
    check_not_own(dy, last_dx_, "dL/dy is the dL/dx of its own last backward", "backward",
                  "Matrix g = layer.backward(dy); layer.backward(g)");  // (backward only reads y: dy = y is fine)
    forget_returned();  // the buffer may be overwritten unmasked, or written
    const Matrix<S>& dx = recorded_backward(dy);
    if (dx.size() != 0 && (dx.rows() != in_.size() || dx.cols() != dy.cols())) {  // (a user's layer: blamed on the one before)
      detail::fail<RuntimeError>(describe(), "'s backward returned dL/dx of ", dx.rows(), " x ", dx.cols(),
                                 ", but its input is ", in_.size(), " x ", dy.cols(),
                                 " (or an empty matrix when input gradients are off)");
    }
    return dx;
  }

  // For Sequential: true when this call's output is its input unchanged (Flatten always, Dropout in
  // Eval mode). The forward is then checked and recorded as forward() would do it, and the caller
  // uses x itself as the output, which saves a copy of the batch.
  bool forward_in_place(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    if (!passes_through(mode)) return false;
    check_input(x, mode);
    ++forwards_;
    relu_fused_ = false;
    kept_ = {};
    plane_taker_ = nullptr;
    record_forward(mode, x.cols());
    return true;
  }
  // After a Train forward: true (with backward()'s checks) when dL/dx is dy unchanged.
  bool backward_in_place(const Eigen::Ref<const Matrix<S>>& dy) {
    if (!passes_through(Mode::Train)) return false;
    check_backward(dy, false);
    forget_returned();
    return true;
  }

  // Fixes the per-sample input shape; throws InvalidArgument naming the layer and the shape when
  // the layer cannot take it. Sequential binds every layer it holds to its neighbour's output.
  void bind(const Shape& input) { bind_as(input, Binding::Explicit); }
  bool bound() const { return binding_ != Binding::None; }
  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }

  // The input shape the layer's own configuration implies (Linear(784, ...) takes 784 features),
  // if it implies one; a model's first layer needs one, or the model needs an input shape.
  virtual std::optional<Shape> natural_input_shape() const { return std::nullopt; }

  // Expires when this layer is destroyed (TensorRef::layer).
  std::weak_ptr<const void> lifetime() const { return alive_; }

  virtual std::vector<TensorRef<S>> parameters() { return {}; }  // "weight", "bias"
  virtual std::vector<TensorRef<S>> buffers() { return {}; }     // "running_mean", "running_var"

  // The name it is registered under (model files store it) and the configuration that rebuilds it.
  virtual std::string_view kind() const = 0;
  virtual LayerConfig config() const { return {}; }
  // "Linear(784, 256)": for summaries and messages.
  virtual std::string describe() const { return std::string(kind()); }

  Index parameter_count() {
    Index n = 0;
    for (const auto& p : parameters()) n += p.size();
    return n;
  }

  // Layers that draw random numbers in forward (Dropout) expose their generator state, so that a
  // checkpoint resumes bit for bit and a gradient check can replay the same mask.
  virtual bool has_random_state() const { return false; }
  virtual std::uint64_t random_state() const { return 0; }
  virtual void set_random_state(std::uint64_t /*state*/) {}

  // The precision of the layer's matrix products (Linear and Conv2d have some; other layers have
  // none and ignore it). BFloat16 is for float layers only.
  virtual void set_matmul_precision(MatmulPrecision /*precision*/) {}

  // The first layer of a network does not need dL/dx; skipping it saves a matrix product.
  void set_input_grad(bool enabled) { input_grad_ = enabled; }
  bool input_grad() const { return input_grad_; }

 protected:
  // x has in.size() rows. Must return an out.size() x x.cols() buffer owned by the layer.
  virtual const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode mode) = 0;
  // Called only right after a Train forward of the same batch; dy has the output's shape.
  virtual const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) = 0;
  // The output shape for `input`, or an InvalidArgument saying why the layer cannot take it.
  // Shape-preserving layers (activations, dropout) keep this default.
  virtual Shape output_shape_for(const Shape& input) const { return input; }
  // Called after every (re)bind, to size buffers that depend on the shapes.
  virtual void on_bind() {}
  // True when forward in this mode returns its input unchanged (and backward its dy).
  virtual bool passes_through(Mode /*mode*/) const { return false; }

  // Fusion with a following ReLU, which only a Sequential arranges (Sequential::set_fuse_relu): a
  // layer that can apply the ReLU to its output inside its own passes (BatchNorm, Linear) returns true, and
  // then sees relu_fused() true in such a forward and in the backward of that batch, whose dy is
  // then dL/d(ReLU output). Applying it must give the ReLU's bits exactly: y = out.max(0) forward,
  // and dy masked by (y > 0) into a matrix of dy's shape before use (unless relu_gradient_masked()).
  virtual bool can_fuse_relu() const { return false; }
  bool relu_fused() const { return relu_fused_; }
  // With a fused ReLU, true in the backward whose dy the layer after the ReLU already masked by
  // (y > 0) (see can_mask_relu_gradient): the layer then skips its own mask pass.
  bool relu_gradient_masked() const { return relu_gradient_masked_; }

  // A layer that can return its dL/dx already masked by (x > 0), the backward mask of a ReLU
  // before it, at no extra pass (MaxPool2d: only a window's maximum receives gradient, and the
  // maximum's sign is the pooled output's; Linear: its product masks each element as it finishes
  // it) returns true; a Sequential then asks for that in the backward after a fused layer + ReLU,
  // and relu_masking() is true in it (also in a fused backward: a Linear between two ReLUs). The
  // values must be exactly the ReLU's mask applied to the layer's own dL/dx.
  virtual bool can_mask_relu_gradient() const { return false; }
  bool relu_masking() const { return relu_masking_; }

  // Planes handed on, which only a Sequential arranges after a fused ReLU (layer, ReLU, taker): a
  // layer that computes its output one channel plane at a time (BatchNorm2d) returns true from
  // can_feed_planes(), and a layer that computes its output from one input plane at a time and
  // can mask its dL/dx for the ReLU (MaxPool2d's 2 x 2 pool) from can_take_planes(). In the
  // forward the feeder then hands each sample's planes of its ReLU'd output to the taker while
  // they are in cache (hand_planes(); feeds_planes() is true), instead of writing its output for
  // the taker to read back: that output is never written. The taker's state after it must be
  // exactly what its own forward of that output leaves, so backward goes as after a fused pair;
  // should the feeder's backward need its output after all (a dy the taker did not mask), it
  // computes it again.
  virtual bool can_feed_planes() const { return false; }
  virtual bool can_take_planes() const { return false; }
  bool feeds_planes() const { return plane_taker_ != nullptr; }
  void hand_planes(Index sample, Index first, Index count, const S* planes) const {
    plane_taker_->take_planes(sample, first, count, planes);
  }
  // The taker's side (called only when can_take_planes()): size the output for a batch of `batch`
  // and return it, before the feeder's forward; then take channels [first, first + count) of
  // sample `sample` (count planes of input_shape().pixels() values, one after the other) and
  // compute the outputs that depend on them (called from several threads at once, for different
  // channels).
  virtual const Matrix<S>& begin_planes(Index /*batch*/) { fail_planes(); }
  virtual void take_planes(Index /*sample*/, Index /*first*/, Index /*count*/, const S* /*planes*/) {
    fail_planes();
  }

  // dL/dx given back a sample at a time, which only a Sequential arranges (fusion on, see
  // Sequential::set_fuse_relu): a layer whose dL/dx is, once its backward has summed over the
  // batch, a sample's own computation (BatchNorm2d) returns true from can_give_samples(), and a
  // layer whose backward reads dL/dy one sample at a time (Conv2d one sample at a time) from
  // can_take_samples(). When the taker comes right before the giver, the giver's backward then
  // sums but does not write dL/dx (giving_samples() is true; it returns its dL/dx buffer as it
  // was), and the taker's backward asks for each sample's dL/dy when it reads it (pull_sample();
  // pulls_samples() is true), instead of the giver writing the whole batch's for the taker to read
  // back. give_sample must write exactly the column the giver's backward would have written, and a
  // taker must pull every sample while pulls_samples() is true (fewer pulls than the batch's
  // samples: its backward throws, naming both layers).
  virtual bool can_give_samples() const { return false; }
  virtual bool can_take_samples() const { return false; }
  bool giving_samples() const { return giving_samples_; }
  bool pulls_samples() const { return sample_giver_ != nullptr; }
  void pull_sample(Index sample, S* column) const {
    sample_giver_->give_sample(sample, column);
    sample_giver_->samples_given_.fetch_add(1, std::memory_order_relaxed);
  }
  // The giver's side, after a backward in which giving_samples() was true and before its next
  // forward or backward: sample `sample`'s column of that backward's dL/dx into `column`
  // (input_shape().size() values; called from several threads at once, for different samples).
  virtual void give_sample(Index /*sample*/, S* /*column*/) const {
    detail::fail<RuntimeError>(describe(), " cannot give dL/dx by samples (can_give_samples() is false)");
  }

  // Reading the input again in backward, which only a Sequential arranges: a layer that would
  // otherwise keep its input, or something computed from it, for backward (Linear and Conv2d copy
  // x, BatchNorm2d writes x normalized) returns true. In a Train forward whose input is the output
  // buffer of an earlier layer of the same Sequential, or the first layer's given with its version
  // (Sequential::forward(const VersionedMatrix&, Mode): a DataLoader's full batch, as the Trainer
  // gives it), kept_input() is then that matrix, in the forward and in its backward (nullptr
  // otherwise), and the layer may read it in backward instead of keeping its own copy. A backward
  // after the buffer's owner ran another forward (or the loader moved on) is refused.
  virtual bool can_read_kept_input() const { return false; }
  const Matrix<S>* kept_input() const { return kept_.matrix; }

  bool input_grad_ = true;

 private:
  enum class Binding { None, Implicit, Explicit };
  // Absorbed: a ReLU whose work the layer before it did (fused by a Sequential).
  enum class Cache { None, Train, Eval, Failed, Absorbed };

  // The fused calls are the Sequential's alone: a layer used on its own always computes what its
  // forward and backward say.
  friend class Sequential<S>;
  // taker: the layer after the ReLU, which takes the planes (see can_feed_planes), or nullptr.
  const Matrix<S>& forward_fused(const Eigen::Ref<const Matrix<S>>& x, Mode mode, Layer* taker) {
    return forward_as(x, mode, true, Kept{}, taker);
  }
  // kept: the matrix x views, the output buffer of `owner` (see can_read_kept_input).
  const Matrix<S>& forward_kept(const Matrix<S>& kept, const Layer& owner, Mode mode, bool fused, Layer* taker) {
    return forward_as(kept, mode, fused, Kept{&kept, &owner, &owner.forwards_, owner.forwards_}, taker);
  }
  // The same with the model's input, a matrix its owner keeps as it is while its version holds.
  const Matrix<S>& forward_kept(const VersionedMatrix<S>& kept, Mode mode, bool fused, Layer* taker) {
    return forward_as(*kept.matrix, mode, fused, Kept{kept.matrix, nullptr, kept.version, kept.value}, taker);
  }
  // The taker's forward, in two halves around the feeder's: its output is sized first, and its
  // input (the ReLU's output, never written) is checked and the forward recorded after.
  const Matrix<S>& begin_taking(Index batch) {
    MLP_ASSERT(can_take_planes(), "begin_taking on a layer that cannot take planes");
    ++forwards_;
    cache_ = Cache::Failed;  // until absorb_taken
    forget_returned();
    relu_fused_ = false;
    kept_ = {};
    plane_taker_ = nullptr;
    last_output_ = {};
    taken_output_ = &begin_planes(batch);
    return *taken_output_;
  }
  const Matrix<S>& absorb_taken(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    check_input(x, mode);
    MLP_ASSERT(taken_output_ != nullptr && taken_output_->cols() == x.cols(), "absorb_taken without begin_taking");
    record_forward(mode, x.cols());
    last_output_ = Span::of(*taken_output_);
    return *taken_output_;
  }
  // masked: dy is already masked by (y > 0), by the layer after the ReLU (backward_relu_masked).
  // mask_input: the layer also comes after a fused ReLU and masks its dL/dx for it (a Linear between
  // two ReLUs), as backward_relu_masked.
  const Matrix<S>& backward_fused(const Eigen::Ref<const Matrix<S>>& dy, bool masked, bool mask_input) {
    check_backward(dy, true);
    forget_returned();
    const FlagScope scope(relu_gradient_masked_, masked);
    return mask_input ? masked_backward(dy) : recorded_backward(dy);
  }
  // The layer after a fused ReLU: its dL/dx masked by (x > 0).
  const Matrix<S>& backward_relu_masked(const Eigen::Ref<const Matrix<S>>& dy) {
    check_backward(dy, false);
    return masked_backward(dy);
  }
  // The result is remembered as masked until the layer's next forward or backward, so that the
  // fused layer before the ReLU trusts only it.
  const Matrix<S>& masked_backward(const Eigen::Ref<const Matrix<S>>& dy) {
    MLP_ASSERT(can_mask_relu_gradient(), "a masked backward on a layer that cannot mask");
    forget_returned();
    const FlagScope scope(relu_masking_, true);
    const Matrix<S>& dx = recorded_backward(dy);
    masked_output_ = &dx;
    return dx;
  }
  // backward_impl, its result remembered for check_not_own (forgotten first: backward_impl may free
  // it, and a throw leave a new matrix in its place).
  const Matrix<S>& recorded_backward(const Eigen::Ref<const Matrix<S>>& dy) {
    last_dx_ = {};
    const Matrix<S>& dx = backward_impl(dy);
    last_dx_ = Span::of(dx);
    return dx;
  }
  // Any forward or backward overwrites (or leaves unwritten) what the last backward returned.
  void forget_returned() {
    masked_output_ = nullptr;
    given_output_ = nullptr;
  }
  bool returned_masked(const Matrix<S>& g) const { return masked_output_ == &g; }
  // g is the unwritten dL/dx of a backward that gave samples, and the layer has run nothing since.
  bool gave_samples(const Matrix<S>& g) const { return given_output_ == &g; }
  // The backward of layer i of a Sequential: `call` with giving_samples() as `give`, then, when it
  // gave, its result remembered as unwritten; with `giver`, a backward that pulls from it.
  template <class Call>
  const Matrix<S>& backward_as(bool give, const Layer* giver, Call&& call) {
    MLP_ASSERT(!give || can_give_samples(), "giving samples on a layer that cannot");
    MLP_ASSERT(giver == nullptr || can_take_samples(), "pulling samples on a layer that cannot take them");
    const FlagScope giving(giving_samples_, give);
    const PointerScope pulling(sample_giver_, giver);
    if (giver != nullptr) giver->samples_given_.store(0, std::memory_order_relaxed);
    const Matrix<S>& dx = call();
    if (give) given_output_ = &dx;
    // A taker that reads dL/dy without pulling it would read a buffer the giver never wrote.
    if (giver != nullptr && giver->samples_given_.load(std::memory_order_relaxed) < cached_batch_) {
      detail::fail<RuntimeError>(describe(), " says it takes dL/dy by samples (can_take_samples()), but its backward "
                                 "pulled ", giver->samples_given_.load(std::memory_order_relaxed), " for a batch of ",
                                 cached_batch_, " from ", giver->describe(), ", which did not write it (pull "
                                 "every sample with pull_sample() while pulls_samples() is true)");
    }
    return dx;
  }
  // Sets a value for the duration of a call (also when it throws), then restores it.
  template <class T>
  struct Scoped {
    Scoped(T& value, T during) : value_(value), before_(value) { value_ = during; }
    ~Scoped() { value_ = before_; }
    Scoped(const Scoped&) = delete;
    Scoped& operator=(const Scoped&) = delete;
    T& value_;
    T before_;
  };
  using FlagScope = Scoped<bool>;
  using PointerScope = Scoped<const Layer*>;
  // The ReLU side: its forward and backward are recorded and checked, and computed by the layer
  // before it; its own backward() is refused after such a forward.
  void absorb_forward(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    check_input(x, mode);
    ++forwards_;
    relu_fused_ = false;
    kept_ = {};
    plane_taker_ = nullptr;
    record_forward(mode, x.cols());
    if (mode == Mode::Train) cache_ = Cache::Absorbed;
  }
  void absorb_backward(const Eigen::Ref<const Matrix<S>>& dy) {
    if (cache_ != Cache::Absorbed) fail_no_forward(cache_ == Cache::Train ? kOwnForward : cache_text());
    check_shape(dy);
  }
  static constexpr const char* kOwnForward =
      "the last forward was the layer's own, not the Sequential's (the Sequential's backward follows the "
      "Sequential's forward)";

  // An input read again in backward, and what tells that it is still what the forward read: the
  // output buffer of `owner` while owner's forwards_ holds, or the model's input while its owner's
  // version holds (owner null), in both cases at the same address with the same columns.
  struct Kept {
    const Matrix<S>* matrix = nullptr;
    const Layer* owner = nullptr;
    const std::uint64_t* version = nullptr;
    std::uint64_t value = 0;
    const S* data = nullptr;
    Index cols = 0;
    bool still() const { return *version == value && matrix->data() == data && matrix->cols() == cols; }
  };

  const Matrix<S>& forward_as(const Eigen::Ref<const Matrix<S>>& x, Mode mode, bool fused, Kept kept = {},
                              Layer* taker = nullptr) {
    check_input(x, mode);
    MLP_ASSERT(!fused || can_fuse_relu(), "a fused forward on a layer that cannot apply a ReLU");
    MLP_ASSERT(taker == nullptr || (fused && can_feed_planes() && taker->taken_output_ != nullptr),
               "planes handed on without a fused ReLU, a feeder or a taker that began");
    cache_ = Cache::Failed;  // if forward_impl throws, backward is refused
    ++forwards_;
    forget_returned();
    relu_fused_ = fused;
    kept_ = {};
    plane_taker_ = taker;
    if (kept.matrix != nullptr && mode == Mode::Train && can_read_kept_input()) {
      MLP_ASSERT(kept.owner != this && kept.matrix->data() == x.data() && kept.matrix->cols() == x.cols() &&
                     *kept.version == kept.value,
                 "forward_kept: not the owner's buffer as it is");
      kept_ = kept;
      kept_.data = x.data();
      kept_.cols = x.cols();
    }
    last_output_ = {};  // (forward_impl may free it, and a throw leave a new matrix in its place)
    const Matrix<S>& y = forward_impl(x, mode);
    if (y.rows() != out_.size() || y.cols() != x.cols()) {  // (a user's layer: it was blamed on the next one)
      detail::fail<RuntimeError>(describe(), "'s forward returned ", y.rows(), " x ", y.cols(), ", but its output is ",
                                 out_.described(), " (", out_.size(), " values) per sample for ", x.cols(), " samples");
    }
    record_forward(mode, x.cols());
    last_output_ = Span::of(y);
    if (last_output_.overlaps(x)) last_output_ = {};  // (x itself: not a buffer of the layer's)
    return y;
  }

  // The memory of a matrix the layer returned, to tell it from its next call's argument.
  struct Span {
    const S* begin = nullptr;
    Index size = 0;
    static Span of(const Matrix<S>& m) { return {m.data(), m.size()}; }
    bool overlaps(const Eigen::Ref<const Matrix<S>>& x) const { return detail::overlaps<S>(x, begin, size); }
  };
  // x is not in `own`, the buffer that `call` writes while it reads x.
  void check_not_own(const Eigen::Ref<const Matrix<S>>& x, const Span& own, const char* what, const char* call,
                     const char* copy) const {
    if (!own.overlaps(x)) return;
    detail::fail<InvalidArgument>(describe(), ": ", what, ", a buffer the layer owns and its ", call,
                                  " overwrites while reading it; pass a copy (", copy, ")");
  }

  // A layer used on its own binds itself: to the input its configuration implies, else (a
  // shape-preserving layer) to whatever feature vector it is given.
  void check_input(const Eigen::Ref<const Matrix<S>>& x, Mode mode) {
    if (binding_ == Binding::None) {
      if (const auto natural = natural_input_shape()) {
        bind_as(*natural, Binding::Explicit);
      } else {
        bind_as(Shape::flat(x.rows()), Binding::Implicit);
      }
    } else if (binding_ == Binding::Implicit && x.rows() != in_.size()) {
      bind_as(Shape::flat(x.rows()), Binding::Implicit);
    }
    // The message is built only on failure: describe() allocates, and this runs every step.
    if (x.rows() != in_.size()) {
      detail::fail<InvalidArgument>(describe(), " expects ", in_.described(), " per sample (", in_.size(),
                                    " rows), but got a batch of ", shape_string(x.rows(), x.cols()));
    }
    // An Eval forward of no samples gives no outputs; a backward after a Train one would have no
    // sample to sum its gradients over (Linear's bias read a column past its dy).
    if (mode == Mode::Train && x.cols() == 0) {
      detail::fail<InvalidArgument>(describe(), ": a Train forward needs at least 1 sample, but got a batch of ",
                                    shape_string(x.rows(), x.cols()));
    }
  }
  void record_forward(Mode mode, Index batch) {
    cache_ = mode == Mode::Train ? Cache::Train : Cache::Eval;
    cached_batch_ = batch;
  }
  [[noreturn]] void fail_planes() const {
    detail::fail<RuntimeError>(describe(), " cannot take planes (can_take_planes() is false)");
  }
  void check_backward(const Eigen::Ref<const Matrix<S>>& dy, bool fused) const {
    if (cache_ != Cache::Train) fail_no_forward(cache_text());
    if (fused && !relu_fused_) fail_no_forward(kOwnForward);
    if (!fused && relu_fused_) {
      detail::fail<RuntimeError>(describe(), ": the last forward also applied the ReLU after this layer (fused by "
                                 "a Sequential), so backward has to go through the Sequential too");
    }
    if (kept_.matrix != nullptr && !kept_.still()) {
      if (kept_.owner == nullptr) {
        detail::fail<RuntimeError>(describe(), ": backward reads the input of its last forward, the model's input, "
                                   "which its owner has changed since (a DataLoader's batch: next() or "
                                   "start_epoch() ran between the forward and the backward)");
      }
      detail::fail<RuntimeError>(describe(), ": backward reads the input of its last forward, the output of ",
                                 kept_.owner->describe(), ", which has run another forward since (run the "
                                 "Sequential's forward again before its backward)");
    }
    check_shape(dy);
  }
  [[noreturn]] void fail_no_forward(const char* why) const {
    detail::fail<RuntimeError>(describe(), ": backward needs a forward in Train mode of the same batch just before "
                               "it, but ", why);
  }
  void check_shape(const Eigen::Ref<const Matrix<S>>& dy) const {
    if (dy.rows() != out_.size() || dy.cols() != cached_batch_) {
      detail::fail<RuntimeError>(describe(), ": backward got dL/dy of ", shape_string(dy.rows(), dy.cols()),
                                 ", but the last forward produced ", shape_string(out_.size(), cached_batch_));
    }
  }

  void bind_as(const Shape& input, Binding how) {
    detail::require(input.valid(), describe(), " cannot take an input of shape ", input.str());
    const Shape out = output_shape_for(input);
    detail::require(within_sample_limit(out), describe(), " would give outputs of ", out.str(),
                    " on an input of ", input.described(), "; a sample may have at most ", kMaxSampleValues,
                    " values (is a padding or a size far too large?)");
    out_ = out;
    in_ = input;
    binding_ = how;
    cache_ = Cache::None;
    last_output_ = last_dx_ = {};  // (rebinding may free them, and a new matrix take their place)
    on_bind();
  }

  const char* cache_text() const {
    switch (cache_) {
      case Cache::None: return "there was no forward since the layer was built or bound";
      case Cache::Eval: return "the last forward was in Eval mode";
      case Cache::Failed: return "the last forward failed";
      case Cache::Absorbed:
        return "the last forward was computed by the layer before it (a ReLU fused into it by a Sequential), so "
               "backward has to go through the Sequential too";
      case Cache::Train: break;
    }
    return "";
  }

  Shape in_, out_;
  Binding binding_ = Binding::None;
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);  // lifetime()
  Cache cache_ = Cache::None;
  Index cached_batch_ = 0;
  bool relu_fused_ = false;  // the last forward applied the following ReLU
  bool relu_gradient_masked_ = false;  // in a fused backward: dy is already masked
  bool relu_masking_ = false;          // in backward_relu_masked
  const Matrix<S>* masked_output_ = nullptr;  // what backward_relu_masked returned, while it is that
  const Matrix<S>* given_output_ = nullptr;   // the unwritten dL/dx of a backward that gave samples, while it is that
  bool giving_samples_ = false;               // in a backward whose dL/dx the layer before pulls
  const Layer* sample_giver_ = nullptr;       // in a backward that pulls dL/dy from the layer after
  mutable std::atomic<Index> samples_given_{0};  // as a giver: pulls in the taker's backward
  std::uint64_t forwards_ = 0;                // forwards run, failed ones included
  Kept kept_;                                 // see can_read_kept_input
  Layer* plane_taker_ = nullptr;              // see can_feed_planes
  const Matrix<S>* taken_output_ = nullptr;   // as a taker: what begin_planes returned
  Span last_output_, last_dx_;                // what the last forward and backward returned (check_not_own)
};

}  // namespace mlp
