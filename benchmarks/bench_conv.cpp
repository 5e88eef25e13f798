// bench_conv: Conv2d's two methods (ConvMethod::Lowered and ConvMethod::PerSample) side by side, on
// the first layers of small CNNs and on two inner layers, batch 128, fp32.
//
//   bench_conv [--threads 1,2] [--rounds 12]
//
// For each shape, thread count and method: the forward (Train) and backward times in ms, best of
// `rounds` rounds in which the two methods alternate (a busy moment on a shared machine hits both).
// Backward is timed as a first layer (no dL/dx) and as an inner layer (with dL/dx). The "auto" column
// is the method Conv2d picks on its own.
#include "common/cli.hpp"
#include "common/threads.hpp"

#include <mlp/layers/conv2d.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace {

using mlp::Index;

struct ConvShape {
  Index in, out, size, kernel, padding;
};

// The study's first layer, a 5 x 5 one, RGB first layers (CIFAR-10 size), 4 channels, a 7 x 7 with
// 147 taps, two inner layers (32 and 8 input channels), and first layers on 112 x 112 images (one
// sample's lowering: 112,896 and 338,688 values).
const ConvShape kShapes[] = {{1, 32, 28, 3, 1},  {1, 16, 28, 5, 2}, {3, 32, 32, 3, 1},   {3, 16, 32, 5, 2},
                             {4, 32, 28, 3, 1},  {3, 64, 32, 7, 3}, {32, 64, 14, 1, 0},  {8, 16, 14, 3, 1},
                             {1, 16, 112, 3, 1}, {3, 16, 112, 3, 1}};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Times {
  double forward = 1e300, backward_first = 1e300, backward_inner = 1e300;
};

}  // namespace

int main(int argc, char** argv) {
  return cli::run("bench_conv", [&] {
    cxxopts::Options options("bench_conv", "Conv2d's lowered and per-sample methods side by side");
    options.add_options()
      ("threads", "thread counts to measure", cxxopts::value<std::string>()->default_value("1,2"))
      ("rounds", "alternating rounds per measurement", cxxopts::value<std::string>()->default_value("12"))
      ("h,help", "print this help");
    const auto flags = options.parse(argc, argv);
    if (flags.count("help")) {
      std::cout << options.help() << "\n";
      return 0;
    }
    cli::reject_unmatched(flags);
    const int rounds = static_cast<int>(cli::int_flag(flags, "rounds", 1, 1000));
    const auto thread_counts = cli::parse_sizes(flags["threads"].as<std::string>(), "threads");
    std::printf("%-34s %3s %6s | %-26s | %-26s\n", "layer (batch 128)", "thr", "auto",
                "lowered: fwd, bwd 1st/inner", "per sample: fwd, bwd 1st/inner");
    for (const Index threads : thread_counts) {
      const int t = cli::set_threads(static_cast<int>(threads));
      for (const ConvShape& s : kShapes) {
        mlp::Rng rng(1);
        mlp::Conv2d<float> conv(s.in, s.out, s.kernel, rng, mlp::Conv2dOptions{1, s.padding});
        conv.bind(mlp::Shape{s.in, s.size, s.size});
        const bool auto_per_sample = conv.method() == mlp::ConvMethod::PerSample;
        const mlp::Matrix<float> x = mlp::Matrix<float>::Random(conv.input_shape().size(), 128);
        const mlp::Matrix<float> dy = mlp::Matrix<float>::Random(conv.output_shape().size(), 128);
        Times times[2];
        for (int r = 0; r < rounds; ++r) {
          for (int m = 0; m < 2; ++m) {
            conv.set_method(m == 0 ? mlp::ConvMethod::Lowered : mlp::ConvMethod::PerSample);
            Times& best = times[m];
            for (const bool inner : {false, true}) {
              conv.set_input_grad(inner);
              auto t0 = std::chrono::steady_clock::now();
              conv.forward(x, mlp::Mode::Train);
              best.forward = std::min(best.forward, ms_since(t0));
              t0 = std::chrono::steady_clock::now();
              conv.backward(dy);
              double& b = inner ? best.backward_inner : best.backward_first;
              b = std::min(b, ms_since(t0));
            }
          }
        }
        std::printf("%-34s %3d %6s | %7.3f, %7.3f / %7.3f | %7.3f, %7.3f / %7.3f\n",
                    (conv.describe().substr(0, 34)).c_str(), t, auto_per_sample ? "per s." : "lower.",
                    times[0].forward, times[0].backward_first, times[0].backward_inner, times[1].forward,
                    times[1].backward_first, times[1].backward_inner);
        std::fflush(stdout);
      }
    }
    return 0;
  });
}
