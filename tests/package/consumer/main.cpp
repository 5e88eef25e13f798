#include <mlp/mlp.hpp>

#include <iostream>

int main() {
  mlp::ParameterizedMLP<float> model(mlp::MlpSpec{3, {4}, 2}, 7);
  const mlp::Matrix<float>& logits = model.predict(mlp::Matrix<float>::Ones(3, 5));
  std::cout << "consumer ran a " << model.parameter_count() << "-parameter model, logits "
            << logits.rows() << " x " << logits.cols() << "\n";
  return logits.allFinite() ? 0 : 1;
}
