// Two translation units including the umbrella header must link together (no ODR violations,
// no non-inline definitions in headers).
#include <mlp/mlp.hpp>

double unit_b_loss() {
  mlp::MlpSpec spec{4, {3}, 2};
  mlp::ParameterizedMLP<float> model(spec, 2);
  mlp::SoftmaxCrossEntropy<float> loss;
  mlp::Labels y(2);
  y << 0, 1;
  return static_cast<double>(loss.forward(model.predict(mlp::Matrix<float>::Ones(4, 2)), y));
}
