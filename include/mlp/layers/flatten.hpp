// Flatten: an image of C x H x W values becomes a feature vector of C * H * W values, PyTorch's
// nn.Flatten() on (N, C, H, W). A sample is one column in C, H, W order either way, so the values
// do not move: only the shape the next layer sees changes. In a Sequential it costs nothing (the
// batch is passed on as it is); on its own it copies.
#pragma once

#include "mlp/detail/resize_buffer.hpp"
#include "mlp/layers/layer.hpp"

#include <memory>

namespace mlp {

template <class S = float>
class Flatten final : public Layer<S> {
 public:
  std::string_view kind() const override { return "Flatten"; }
  static std::unique_ptr<Flatten> from_config(const LayerConfig& /*config*/) {
    return std::make_unique<Flatten>();
  }

 protected:
  Shape output_shape_for(const Shape& input) const override { return Shape::flat(input.size()); }
  bool passes_through(Mode /*mode*/) const override { return true; }
  const Matrix<S>& forward_impl(const Eigen::Ref<const Matrix<S>>& x, Mode /*mode*/) override {
    detail::assign_buffer(y_, x);
    return y_;
  }
  const Matrix<S>& backward_impl(const Eigen::Ref<const Matrix<S>>& dy) override {
    detail::assign_buffer(dx_, dy);
    return dx_;
  }

 private:
  Matrix<S> y_, dx_;
};

}  // namespace mlp
