// bench_conv: Conv2d's two methods (ConvMethod::Lowered and ConvMethod::PerSample) side by side, on
// the first layers of small CNNs and on two inner layers, batch 128, fp32.
//
//   bench_conv [--threads 1,2] [--rounds 12]
//   bench_conv --lowering [--rounds 12]
//
// For each shape, thread count and method: the forward (Train) and backward times in ms, best of
// `rounds` rounds in which the two methods alternate (a busy moment on a shared machine hits both).
// Backward is timed as a first layer (no dL/dx) and as an inner layer (with dL/dx). The "auto" column
// is the method Conv2d picks on its own.
//
// --lowering: im2col and col2im of a whole batch in Conv2d's chunks, the portable loops and the ones
// the library runs (the AVX-512 loops for "same" windows on a CPU with AVX512F), alternating, on
// one thread; ms per batch of 128, best of `rounds`.
#include "common/cli.hpp"
#include "common/threads.hpp"

#include <mlp/detail/im2col.hpp>
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
// 147 taps, three inner layers (the study's second layer, a 1 x 1 one, 8 input channels), and first
// layers on 112 x 112 images (one sample's lowering: 112,896 and 338,688 values).
const ConvShape kShapes[] = {{1, 32, 28, 3, 1},  {1, 16, 28, 5, 2},  {3, 32, 32, 3, 1},  {3, 16, 32, 5, 2},
                             {4, 32, 28, 3, 1},  {3, 64, 32, 7, 3},  {32, 64, 14, 3, 1}, {32, 64, 14, 1, 0},
                             {8, 16, 14, 3, 1},  {1, 16, 112, 3, 1}, {3, 16, 112, 3, 1}};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Times {
  double forward = 1e300, backward_first = 1e300, backward_inner = 1e300;
};

// Inner layers as in the study's CNN and a 5 x 5 one, a grey first layer lowered in chunks, and an
// RGB first layer one sample at a time (its chunk is one sample).
struct LoweringShape {
  Index channels, size, kernel, padding, chunk;
};
const LoweringShape kLoweringShapes[] = {
    {32, 14, 3, 1, 4}, {64, 7, 3, 1, 9}, {16, 28, 5, 2, 1}, {1, 28, 3, 1, 16}, {3, 32, 3, 1, 1}};

void lowering_side_by_side(int rounds) {
  std::printf("%-30s %5s | %-22s | %-22s\n", "window (batch 128)", "chunk", "im2col: portable, lib",
              "col2im: portable, lib");
  for (const LoweringShape& s : kLoweringShapes) {
    mlp::detail::Window2d g;
    g.kernel = s.kernel;
    g.padding = s.padding;
    g.bind("bench", mlp::Shape{s.channels, s.size, s.size});
    const Index batch = 128, rows = s.chunk * g.out_pixels(), K = s.channels * g.taps();
    const mlp::Matrix<float> x = mlp::Matrix<float>::Random(s.channels * g.in_pixels(), batch);
    mlp::Matrix<float> dx(x.rows(), batch), cols(rows, K);
    double best[2][2] = {{1e300, 1e300}, {1e300, 1e300}};  // [im2col, col2im][portable, library]
    for (int r = 0; r < rounds; ++r) {
      for (int lib = 0; lib < 2; ++lib) {
        auto t0 = std::chrono::steady_clock::now();
        for (Index first = 0; first < batch; first += s.chunk) {
          const Index n = std::min(s.chunk, batch - first);
          if (lib) {
            mlp::detail::im2col<float>(x, first, n, g, cols.data(), rows);
          } else {
            mlp::detail::im2col_portable<float>(x, first, n, g, cols.data(), rows);
          }
        }
        best[0][lib] = std::min(best[0][lib], ms_since(t0));
        t0 = std::chrono::steady_clock::now();
        for (Index first = 0; first < batch; first += s.chunk) {
          const Index n = std::min(s.chunk, batch - first);
          if (lib) {
            mlp::detail::col2im(cols.data(), rows, first, n, g, dx);
          } else {
            mlp::detail::col2im_portable(cols.data(), rows, first, n, g, dx);
          }
        }
        best[1][lib] = std::min(best[1][lib], ms_since(t0));
      }
    }
    char name[64];
    std::snprintf(name, sizeof name, "%ld x %ld x %ld, %ld x %ld pad %ld", static_cast<long>(s.channels),
                  static_cast<long>(s.size), static_cast<long>(s.size), static_cast<long>(s.kernel),
                  static_cast<long>(s.kernel), static_cast<long>(s.padding));
    std::printf("%-30s %5ld | %7.3f, %7.3f %5.2fx | %7.3f, %7.3f %5.2fx%s\n", name, static_cast<long>(s.chunk),
                best[0][0], best[0][1], best[0][0] / best[0][1], best[1][0], best[1][1], best[1][0] / best[1][1],
                mlp::detail::im2col_vectorized(g, s.chunk) ? "" : "  (the library runs the portable loops)");
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("bench_conv", [&] {
    cxxopts::Options options("bench_conv", "Conv2d's lowered and per-sample methods side by side");
    options.add_options()
      ("threads", "thread counts to measure", cxxopts::value<std::string>()->default_value("1,2"))
      ("rounds", "alternating rounds per measurement", cxxopts::value<std::string>()->default_value("12"))
      ("lowering", "im2col and col2im instead: the portable loops and the library's, one thread")
      ("h,help", "print this help");
    const auto parsed = cli::parse_flags(options, argc, argv);
    if (!parsed) return 0;
    const cxxopts::ParseResult& flags = *parsed;
    const int rounds = static_cast<int>(cli::int_flag(flags, "rounds", 1, 1000));
    if (flags.count("lowering")) {
      cli::set_threads(1);
      lowering_side_by_side(rounds);
      return 0;
    }
    const auto thread_counts = cli::runnable_thread_counts(
        cli::parse_thread_counts(flags["threads"].as<std::string>(), "threads", flags.count("threads") > 0));
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
