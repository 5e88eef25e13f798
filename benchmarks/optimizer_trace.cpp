// Runs one of the library's optimizers in float on a fixed tensor with fixed gradients and writes its
// weights and state as raw float32, for benchmarks/compare_optimizers_pytorch.py to compare bit for
// bit with PyTorch's own optimizer given the same tensor and gradients.
//   w0[i] = sin(0.37 i);  the gradient of step t: g[i] = sin(1 + 0.01 i + 0.7 t) exp(-0.0003 i)
// (both computed in double, then rounded to float, in the same way in the script).
#include "common/cli.hpp"

#include <mlp/io/atomic_file.hpp>
#include <mlp/optim/adagrad.hpp>
#include <mlp/optim/adam.hpp>
#include <mlp/optim/rmsprop.hpp>
#include <mlp/optim/sgd.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

std::unique_ptr<mlp::Optimizer<float>> make_optimizer(const std::string& case_name,
                                                      std::vector<mlp::TensorRef<float>> refs) {
  if (case_name == "adam") return std::make_unique<mlp::Adam<float>>(refs, mlp::AdamOptions{0.001, 0.9, 0.999, 1e-8, 0.0});
  if (case_name == "adam-wd") return std::make_unique<mlp::Adam<float>>(refs, mlp::AdamOptions{0.001, 0.9, 0.999, 1e-8, 0.01});
  if (case_name == "adamw") return std::make_unique<mlp::AdamW<float>>(refs, mlp::AdamWOptions{0.001, 0.9, 0.999, 1e-8, 0.01});
  if (case_name.rfind("rmsprop", 0) == 0) {
    mlp::RMSpropOptions o;
    o.lr = 0.001;
    if (case_name == "rmsprop-centered") {
      o.centered = true;
    } else if (case_name == "rmsprop-momentum") {
      o.momentum = 0.9;
    } else if (case_name == "rmsprop-all") {
      o.centered = true;
      o.momentum = 0.9;
      o.weight_decay = 0.01;
    } else if (case_name != "rmsprop") {
      return nullptr;
    }
    return std::make_unique<mlp::RMSprop<float>>(refs, o);
  }
  if (case_name == "adagrad") return std::make_unique<mlp::Adagrad<float>>(refs, mlp::AdagradOptions{});
  if (case_name == "adagrad-all") return std::make_unique<mlp::Adagrad<float>>(refs, mlp::AdagradOptions{0.01, 0.001, 0.01, 0.1, 1e-10});
  if (case_name.rfind("sgd", 0) == 0) {
    mlp::SGDOptions o;
    o.lr = 0.01;
    if (case_name == "sgd") {
      o.weight_decay = 0.001;
    } else if (case_name == "sgd-momentum") {
      o.momentum = 0.9;
    } else if (case_name == "sgd-nesterov") {
      o.momentum = 0.9;
      o.nesterov = true;
      o.weight_decay = 0.001;
    } else {
      return nullptr;
    }
    return std::make_unique<mlp::SGD<float>>(refs, o);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("optimizer_trace", [&] {
    cxxopts::Options options("optimizer_trace",
                             "One optimizer in float over fixed gradients; writes its weights and state as raw float32");
    options.add_options()
      ("case", "adam, adam-wd, adamw, rmsprop, rmsprop-centered, rmsprop-momentum, rmsprop-all, adagrad, adagrad-all, "
               "sgd, sgd-momentum, sgd-nesterov",
       cxxopts::value<std::string>())
      ("size", "elements of the tensor", cxxopts::value<std::string>()->default_value("20000"))
      ("steps", "optimizer steps", cxxopts::value<std::string>()->default_value("300"))
      ("out", "file to write: the weights, then each state buffer (float32, native byte order)",
       cxxopts::value<std::string>())
      ("h,help", "print this help");
    const auto parsed = cli::parse_flags(options, argc, argv);
    if (!parsed) return 0;
    const cxxopts::ParseResult& flags = *parsed;
    if (flags.count("case") == 0 || flags.count("out") == 0) throw cli::UsageError("--case and --out are required");
    const auto n = static_cast<mlp::Index>(cli::int_flag(flags, "size", 1, 100000000));
    const auto steps = static_cast<int>(cli::int_flag(flags, "steps", 1, 1000000));
    const std::string case_name = flags["case"].as<std::string>();
    mlp::Matrix<float> w(n, 1), g(n, 1);
    for (mlp::Index i = 0; i < n; ++i) w(i, 0) = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
    auto optimizer = make_optimizer(case_name, {mlp::tensor_ref<float>("w", w, &g, true)});
    if (!optimizer) throw cli::UsageError("--case: unknown case '" + case_name + "'");
    for (int t = 1; t <= steps; ++t) {
      for (mlp::Index i = 0; i < n; ++i) {
        const auto x = static_cast<double>(i);
        g(i, 0) = static_cast<float>(std::sin(1.0 + 0.01 * x + 0.7 * t) * std::exp(-0.0003 * x));
      }
      optimizer->step();
    }
    // the tensors' names on stdout, in the file's order: "w w.exp_avg w.exp_avg_sq"
    std::string bytes(reinterpret_cast<const char*>(w.data()), sizeof(float) * static_cast<std::size_t>(n));
    std::string names = "w";
    for (const auto& buffer : optimizer->state_dict()) {
      bytes.append(reinterpret_cast<const char*>(buffer.value.data()), sizeof(float) * static_cast<std::size_t>(buffer.value.size()));
      names += " " + buffer.name;
    }
    mlp::write_file_atomically(flags["out"].as<std::string>(), bytes);
    std::printf("%s\n", names.c_str());
    return 0;
  });
}
