// What a cell costs, estimated before it runs: multiply-adds per image of the model's forward pass,
// times the images a run pushes through it (training counts three passes: forward, and backward to
// the inputs and to the weights; validation every epoch and the two test evaluations one each).
// The estimate orders the queue (longest first, so that the last cells to finish are short ones)
// and, once a cell has finished, turns into seconds for the time-left estimate.
#pragma once

#include "seeds.hpp"

#include <mlp/core/shape.hpp>
#include <mlp_app/architecture.hpp>

#include <string>
#include <vector>

namespace study {

// A convolution's multiply-adds take longer than a dense layer's: im2col copies every patch, and
// its products are smaller. Measured on the study's models (one thread, FashionMNIST): the CNN's
// epoch takes 42 times the baseline MLP's for 18 times the multiply-adds.
inline constexpr double kConvSlowdown = 2.3;

struct ModelCost {
  double macs = 0.0;            // multiply-adds per image, forward
  double work = 0.0;            // the same, convolutions weighted by kConvSlowdown: what takes time
  double conv_parameters = 0.0; // weights and biases of the convolutions (shared over positions)
  double parameters = 0.0;
};

inline ModelCost model_cost(const mlp::app::RunConfig& c, const mlp::Shape& input, mlp::Index classes) {
  ModelCost m;
  mlp::Shape s = input;
  for (const mlp::app::ArchBlock& b : c.blocks()) {
    using Kind = mlp::app::ArchBlock::Kind;
    if (b.kind == Kind::Conv) {
      const double weights = static_cast<double>(s.channels * b.size * b.kernel * b.kernel);
      m.macs += weights * static_cast<double>(s.height * s.width);  // stride 1, same padding
      m.work += (kConvSlowdown - 1.0) * weights * static_cast<double>(s.height * s.width);
      m.conv_parameters += weights + static_cast<double>(b.size);
      s = mlp::Shape(b.size, s.height, s.width);
    } else if (b.kind == Kind::MaxPool || b.kind == Kind::AvgPool) {
      m.macs += static_cast<double>(s.size());
      s = mlp::Shape(s.channels, s.height / b.size, s.width / b.size);
    } else if (b.kind == Kind::Dense) {
      m.macs += static_cast<double>(s.size() * b.size);
      s = mlp::Shape::flat(b.size);
    }
  }
  m.macs += static_cast<double>(s.size() * classes);
  m.work += m.macs;
  m.parameters = mlp::app::estimate_architecture(c.blocks(), input, classes).parameters;
  return m;
}

// The images a run of this configuration processes, weighted as above.
inline double image_passes(const mlp::app::RunConfig& c, mlp::Index train_images, mlp::Index test_images) {
  const double train = static_cast<double>(c.train_limit > 0 ? std::min(c.train_limit, train_images) : train_images);
  const double validation = c.train_limit > 0 ? train / 5.0 : static_cast<double>(c.validation);
  return c.epochs * (3.0 * train + validation) + 2.0 * static_cast<double>(test_images);
}

inline double cell_cost(const Cell& cell, const mlp::Shape& input, mlp::Index classes, mlp::Index train_images,
                        mlp::Index test_images) {
  return model_cost(cell.config, input, classes).work * image_passes(cell.config, train_images, test_images);
}

// "1 h 05 min", "12 min", "40 s".
inline std::string duration_text(double seconds) {
  if (!(seconds >= 0.0)) return "?";
  const long long s = static_cast<long long>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string((s + 30) / 60) + " min";
  const long long m = (s + 30) / 60;
  const std::string mm = std::to_string(m % 60);
  return std::to_string(m / 60) + " h " + (mm.size() < 2 ? "0" : "") + mm + " min";
}

}  // namespace study
