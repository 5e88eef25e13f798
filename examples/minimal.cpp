// The smallest complete use of the library: make a toy data set (three Gaussian blobs in 2-D),
// build an MLP from a spec, and train it with a hand-written SGD loop.
#include <mlp/mlp.hpp>

#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
  if (argc > 1) {  // a flag meant for `train` would otherwise be ignored without a word
    if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
      std::printf("usage: minimal\n(no arguments: trains a fixed toy model; the configurable trainer is train --help)\n");
      return 0;
    }
    std::fprintf(stderr, "minimal: error: unexpected argument '%s' (minimal takes none; see minimal --help)\n", argv[1]);
    return 2;
  }
  // 600 points, one per column, in three classes centred at (-2, 0), (2, 0) and (0, 3).
  const mlp::Index n = 600;
  mlp::Rng rng(mlp::derive_seed(42, "data"));
  mlp::Matrix<float> x(2, n);
  mlp::Labels y(n);
  const float centres[3][2] = {{-2.0f, 0.0f}, {2.0f, 0.0f}, {0.0f, 3.0f}};
  for (mlp::Index i = 0; i < n; ++i) {
    y[i] = static_cast<int>(i % 3);
    x(0, i) = centres[y[i]][0] + rng.normal(0.0f, 0.8f);
    x(1, i) = centres[y[i]][1] + rng.normal(0.0f, 0.8f);
  }

  mlp::MlpSpec spec;
  spec.inputs = 2;
  spec.hidden = {16, 16};
  spec.classes = 3;
  mlp::ParameterizedMLP<float> model(spec, /*seed=*/42);
  mlp::SoftmaxCrossEntropy<float> loss_fn;
  auto params = model.parameters();

  const float lr = 0.1f;
  for (int step = 1; step <= 200; ++step) {
    const float loss = loss_fn.forward(model.forward(x, mlp::Mode::Train), y);
    model.backward(loss_fn.backward());  // fills every parameter's gradient
    for (auto& p : params) p.value_map() -= lr * p.grad_map();
    if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, static_cast<double>(loss));
  }
  const double acc = mlp::accuracy(model.predict(x), y);
  std::printf("training accuracy %.1f%%\n", 100.0 * acc);
  return acc > 0.9 ? 0 : 1;
}
