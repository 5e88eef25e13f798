// evaluate: a saved model on the test (or validation) split of the data it was trained on.
//
//   evaluate --model runs/my_run/best.mlp [--data DIR] [--split test|val]
//
// The architecture, preprocessing and split all come from the model file. Prints loss, accuracy,
// per-class accuracy and the confusion matrix.
#include "common/cli.hpp"
#include "common/threads.hpp"

#include <mlp/data/locate.hpp>
#include <mlp/data/prepared.hpp>
#include <mlp/io/model_file.hpp>
#include <mlp/train/evaluate.hpp>
#include <mlp_app/run_metadata.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>

namespace {

void print_confusion(const mlp::ConfusionMatrix& cm, const std::vector<std::string>& names) {
  std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%14s", "");
  for (std::size_t p = 0; p < names.size(); ++p) std::printf(" %6zu", p);
  std::printf("\n");
  for (mlp::Index t = 0; t < cm.classes(); ++t) {
    std::printf("%2lld %-11.11s", static_cast<long long>(t), names[static_cast<std::size_t>(t)].c_str());
    for (mlp::Index p = 0; p < cm.classes(); ++p) std::printf(" %6lld", static_cast<long long>(cm.count(t, p)));
    std::printf("\n");
  }
  mlp::Index none = 0;
  for (mlp::Index t = 0; t < cm.classes(); ++t) none += cm.unpredicted(t);
  if (none > 0) {
    std::printf("%lld image%s predicted no class (a NaN among the logits): wrong in the accuracies above\n",
                static_cast<long long>(none), none == 1 ? "" : "s");
  }
}

std::string six_digits(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

// At the run's precision, the validation split gives the run's own numbers: the val_loss or val_acc
// that BestCheckpoint stored is compared, so that a model evaluated on other images than the run
// validated on says so.
void check_against_training(const mlp::app::RunMetadata& m, const std::string& split, mlp::MatmulPrecision precision,
                            const mlp::EvalResult& r) {
  if (split != "val" || precision != m.precision || r.samples == 0) return;
  double now = 0.0, tolerance = 0.0;
  if (m.monitor == mlp::metric::val_loss) {
    now = r.loss;
    tolerance = 1e-5 * std::max(1.0, std::abs(m.monitored));  // (sums over other batches: rounding)
  } else if (m.monitor == mlp::metric::val_acc) {
    now = r.accuracy;
    tolerance = 0.5 / static_cast<double>(r.samples);  // (the same count of correct images)
  } else {
    return;
  }
  if (std::abs(now - m.monitored) <= tolerance) {
    std::printf("the %s the run logged for this epoch, reproduced\n", m.monitor.c_str());
  } else {
    std::fprintf(stderr, "evaluate: note: the run logged %s %s for this epoch, this evaluation gives %s: are these "
                 "the images it validated on (were the data files changed since)?\n", m.monitor.c_str(),
                 six_digits(m.monitored).c_str(), six_digits(now).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("evaluate", [&] {
    cxxopts::Options options("evaluate", "Evaluate a saved model on the test or validation split");
    options.add_options()
      ("model", "model file written by train (best.mlp)", cxxopts::value<std::string>())
      ("data", "folder with the data files (default: search $MLP_DATA, ./data/<dataset>, /usr/share/datasets/<dataset>)",
       cxxopts::value<std::string>())
      ("split", "test or val", cxxopts::value<std::string>()->default_value("test"))
      ("precision", "matrix products: fp32 or bf16 (default: the run's, as its summary's numbers were computed)",
       cxxopts::value<std::string>())
      ("h,help", "print this help");
    const auto parsed = cli::parse_flags(options, argc, argv);
    if (!parsed) return 0;
    const cxxopts::ParseResult& flags = *parsed;
    if (!flags.count("model")) throw cli::UsageError("--model is required");
    const std::string path = flags["model"].as<std::string>();
    const std::string split = flags["split"].as<std::string>();
    if (split != "test" && split != "val") throw cli::UsageError("--split has to be test or val, but got '" + split + "'");

    const bool precision_given = flags.count("precision") > 0;
    const auto given_precision =
        precision_given ? cli::precision_flag(flags["precision"].as<std::string>()) : mlp::MatmulPrecision::Float32;
    auto loaded = mlp::load_model<float>(path);
    const auto m = mlp::app::read_run_metadata(loaded.metadata, path, loaded.model.input_shape(),
                                               loaded.model.output_shape().size());
    const auto precision = precision_given ? given_precision : m.precision;
    loaded.model.set_matmul_precision(precision);
    cli::note_precision(precision);
    const auto dir = mlp::locate_dataset(m.dataset, cli::text_flag(flags, "data"));
    const auto data = mlp::load_dataset(m.dataset, dir);
    mlp::app::check_same_data(m, path, data.test, dir.string());
    const mlp::Dataset* set = &data.test;
    std::vector<mlp::Index> indices;
    bool limited = false;  // a --train-limit run's validation images: the first of the split's
    if (split == "val") {
      if (m.validation >= data.train.size()) {
        throw mlp::IoError("'" + path + "' has a validation split of " + std::to_string(m.validation) +
                           " images in its metadata, but " + dir.string() + " has " +
                           std::to_string(data.train.size()) + " training images");
      }
      const auto s = mlp::stratified_split(data.train.labels, static_cast<int>(data.train.classes()), m.validation,
                                           m.split_seed);
      if (s.fingerprint_hex() != m.split_fingerprint) {
        throw mlp::IoError("the validation split of " + dir.string() + " (" + s.fingerprint_hex() +
                           ") is not the one the model was trained with (" + m.split_fingerprint + ")");
      }
      set = &data.train;
      indices = s.validation;
      // (a --train-limit run validated on the first of them: evaluate those, as its val_acc did)
      const mlp::Index used = mlp::app::validation_images_used(m, static_cast<mlp::Index>(s.validation.size()));
      indices.resize(static_cast<std::size_t>(used));
      limited = indices.size() < s.validation.size();
    } else {
      indices.resize(static_cast<std::size_t>(data.test.size()));
      std::iota(indices.begin(), indices.end(), mlp::Index{0});
    }
    mlp::DataLoader<float> loader(*set, indices, m.standardizer, {mlp::app::kEvaluationBatch, false, false, 0});
    const mlp::EvalResult r = mlp::evaluate(loaded.model, loader);
    if (!std::isfinite(r.loss)) {  // (a corrupt or overflowing weight: the loss and accuracy would be meaningless)
      throw mlp::IoError("'" + path + "' gives a non-finite loss (" + std::to_string(r.loss) + ") on the " + split +
                         " split: its weights are unusable (a corrupt file, or a model that diverged)");
    }

    const std::string monitored =
        m.monitor.empty() ? "" : ", " + m.monitor + " " + six_digits(m.monitored) + " in training";
    std::printf("model %s (epoch %s%s)\n%s\n", path.c_str(), m.epoch.empty() ? "?" : m.epoch.c_str(),
                monitored.c_str(), loaded.model.summary().c_str());
    const std::string why = !precision_given          ? "as the run trained"
                            : precision == m.precision ? "--precision, as the run trained"
                                                       : std::string("--precision; the run trained in ") + mlp::to_string(m.precision);
    std::printf("matrix products in %s (%s)\n", mlp::to_string(precision), why.c_str());
    std::printf("%s split of %s: %lld image%s%s\n", split.c_str(), mlp::to_string(m.dataset),
                static_cast<long long>(r.samples), r.samples == 1 ? "" : "s",
                limited ? " (those the run validated on: it had a --train-limit)" : "");
    std::printf("loss %.4f, accuracy %.2f%%\n", r.loss, 100.0 * r.accuracy);
    check_against_training(m, split, precision, r);
    std::printf("\nper-class accuracy\n");
    for (mlp::Index k = 0; k < r.confusion.classes(); ++k) {
      const double acc = r.confusion.class_accuracy(k);  // NaN: the split holds no image of the class
      char value[32] = "no images";
      if (!std::isnan(acc)) std::snprintf(value, sizeof value, "%6.2f%%", 100.0 * acc);
      std::printf("  %2lld %-12s %s\n", static_cast<long long>(k), set->class_names[static_cast<std::size_t>(k)].c_str(),
                  value);
    }
    print_confusion(r.confusion, set->class_names);
    return 0;
  });
}
