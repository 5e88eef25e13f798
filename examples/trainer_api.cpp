// The library's trainer from your own code: data loaders, an optimizer, a schedule, callbacks
// (early stopping, best checkpoint, CSV log, TensorBoard, progress), a checkpoint to resume from,
// and the evaluation of the best model. Data: two noisy interleaved spirals it generates itself.
#include <mlp/mlp.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

// n points per class on `classes` interleaved spiral arms in 2-D.
void make_spirals(mlp::Index n, int classes, std::uint64_t seed, mlp::Matrix<float>& x, mlp::Labels& y) {
  mlp::Rng rng(seed);
  x.resize(2, n * classes);
  y.resize(n * classes);
  for (int c = 0; c < classes; ++c) {
    for (mlp::Index i = 0; i < n; ++i) {
      const float r = static_cast<float>(i) / static_cast<float>(n);
      const float angle = 4.0f * r + 2.0f * 3.14159265f * static_cast<float>(c) / static_cast<float>(classes);
      const mlp::Index k = c * n + i;
      x(0, k) = r * std::cos(angle) + rng.normal(0.0f, 0.05f);
      x(1, k) = r * std::sin(angle) + rng.normal(0.0f, 0.05f);
      y[k] = c;
    }
  }
}

// Trains into `out` (or continues the run there) and returns the exit status.
int train_spirals(const std::filesystem::path& out) {
  mlp::ensure_directory(out);
  mlp::Matrix<float> x_train, x_val;
  mlp::Labels y_train, y_val;
  make_spirals(500, 3, 1, x_train, y_train);
  make_spirals(200, 3, 2, x_val, y_val);

  // The model, its optimizer and a schedule (a pure function of the step).
  mlp::MlpSpec spec;
  spec.inputs = 2;
  spec.hidden = {64, 64};
  spec.classes = 3;
  spec.batch_norm = true;
  mlp::ParameterizedMLP<float> model(spec, /*seed=*/42);
  mlp::Adam<float> adam(model.parameters(), {/*lr=*/3e-3});  // the base learning rate: given once
  mlp::DataLoader<float> train(x_train, y_train, {/*batch_size=*/64, /*shuffle=*/true, false, /*seed=*/42});
  mlp::DataLoader<float> val(x_val, y_val, {1000, false, false, 0});
  const int epochs = 60;
  mlp::CosineAnnealingLR cosine(mlp::Epochs{epochs});  // shapes the base rate, once per epoch

  // The trainer: L2 on the weights, a checkpoint after every epoch.
  mlp::TrainerOptions options;
  options.penalty = mlp::WeightPenalty(/*l1=*/0.0, /*l2=*/1e-5);
  options.checkpoint = out / "checkpoint.mlpckpt";
  mlp::Trainer<float> trainer(model, adam, cosine, options);

  // Callbacks observe; they may ask to stop, the trainer decides. Both watch val_loss.
  mlp::EarlyStopping<float> early_stopping(/*patience=*/10, mlp::Monitor("val_loss"));
  mlp::BestCheckpoint<float> best(model, out / "best.mlp");
  mlp::CsvLogger<float> csv(out / "metrics.csv");
  mlp::TensorBoardLogger<float> tensorboard(out);
  mlp::ProgressBar<float> progress(std::cout, /*live=*/false);
  for (mlp::Callback<float>* c : std::initializer_list<mlp::Callback<float>*>{
           &early_stopping, &best, &csv, &tensorboard, &progress}) {
    trainer.add_callback(*c);
  }
  // Continue an interrupted run (callbacks are added first: their state is in the checkpoint). The
  // result is bit-identical to an uninterrupted run. A new run replaces an earlier one's TensorBoard
  // events (the logger refuses a folder that holds another run's).
  if (std::filesystem::exists(options.checkpoint)) {
    trainer.resume(options.checkpoint);
  } else {
    mlp::remove_files_with_prefix(out, "events.out.tfevents.");
  }

  const mlp::History history = trainer.fit(train, &val, epochs);
  std::printf("%s; best epoch %d\n", history.stop_reason.c_str(), best.best_epoch());

  // After fit the model holds the best epoch's weights (BestCheckpoint restored them).
  const mlp::EvalResult result = trainer.evaluate(val);
  std::printf("validation accuracy of the best model: %.2f%% (loss %.4f)\n", 100.0 * result.accuracy, result.loss);

  // A saved model loads without knowing its architecture.
  auto loaded = mlp::load_model<float>(out / "best.mlp");
  std::printf("reloaded %zu layers, %lld parameters: accuracy %.2f%%\n", loaded.model.size(),
              static_cast<long long>(loaded.model.parameter_count()), 100.0 * mlp::evaluate(loaded.model, val).accuracy);
  std::filesystem::remove(options.checkpoint);
  return result.accuracy > 0.9 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string arg = argc > 1 ? argv[1] : "";
  if (argc > 2 || (!arg.empty() && arg[0] == '-')) {
    const bool help = argc == 2 && (arg == "-h" || arg == "--help");
    (help ? std::cout : std::cerr) << "usage: trainer_api [output folder]   (default: runs/trainer_api)\n";
    return help ? 0 : 2;
  }
  // The library reports bad input with exceptions: mlp::IoError (a file) and mlp::InvalidArgument (a
  // value) are the caller's to fix, anything else is a failure while running.
  try {
    return train_spirals(arg.empty() ? "runs/trainer_api" : arg);
  } catch (const mlp::IoError& e) {
    std::cerr << "trainer_api: error: " << e.what() << "\n";
    return 2;
  } catch (const mlp::InvalidArgument& e) {
    std::cerr << "trainer_api: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "trainer_api: error: " << e.what() << "\n";
    return 1;
  }
}
