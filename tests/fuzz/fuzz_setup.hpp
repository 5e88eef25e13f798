// The small, fixed training setup whose checkpoints the checkpoint fuzzer loads (the corpus
// generator writes its seeds with the same setup, so they fit).
#pragma once

#include <mlp/mlp.hpp>

#include <memory>
#include <sstream>

namespace fuzz {

struct TinySetup {
  mlp::Matrix<float> x;
  mlp::Labels y;
  mlp::ParameterizedMLP<float> model;
  mlp::Adam<float> adam;
  mlp::DataLoader<float> loader;
  mlp::EarlyStopping<float> early_stopping{2};
  mlp::BestCheckpoint<float> best;
  mlp::ReduceLROnPlateau<float> plateau{plateau_options()};
  std::ostringstream progress_text;
  mlp::ProgressBar<float> progress{progress_text, /*live=*/true, "[fuzz] ", 80};  // as train attaches it
  mlp::Trainer<float> trainer;

  static mlp::MlpSpec spec() {
    mlp::MlpSpec s{4, {3}, 2};
    s.batch_norm = true;
    s.dropout = 0.2;
    return s;
  }

  static mlp::ReduceLROnPlateauOptions plateau_options() {
    mlp::ReduceLROnPlateauOptions o;
    o.factor = 0.5;
    o.patience = 1;
    return o;
  }

  TinySetup()
      : x(mlp::Matrix<float>::Ones(4, 8)), y(mlp::Labels::Zero(8)), model(spec(), 1),
        adam(model.parameters(), {1e-2}), loader(x, y, {4, true, false, 1}), best(model, ""),
        trainer(model, adam) {
    for (mlp::Index i = 0; i < 8; ++i) {
      y[i] = static_cast<int>(i % 2);
      x(0, i) = static_cast<float>(i % 2);
    }
    trainer.add_callback(early_stopping);
    trainer.add_callback(best);
    trainer.add_callback(plateau);
    trainer.add_callback(progress);
  }
};

}  // namespace fuzz
