// The full description of one training run, as the `train` program and the experiment study use
// it: data, model, optimizer, schedule, regularization, early stopping, seeds. Two runs with equal
// configurations (and the same data split) produce the same numbers, so the configuration is what a
// finished run is recognized by.
#pragma once

#include "mlp/core/precision.hpp"
#include "mlp/core/text_format.hpp"
#include "mlp/data/datasets.hpp"
#include "mlp/model/parameterized_mlp.hpp"
#include "mlp_app/architecture.hpp"
#include "mlp_app/json.hpp"
#include "mlp/optim/adagrad.hpp"
#include "mlp/optim/adam.hpp"
#include "mlp/optim/rmsprop.hpp"
#include "mlp/optim/schedulers.hpp"
#include "mlp/optim/sgd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlp::app {

struct RunConfig {
  static constexpr long long kMaxWidth = 1 << 20, kMaxCount = 1LL << 40;
  static constexpr long long kMaxSeed = (1LL << 53) - 1;  // exact as a JSON number

  DatasetKind dataset = DatasetKind::FashionMnist;
  // Model: an MLP of `hidden` widths (with batch_norm and dropout), or, when `arch` is not empty,
  // the architecture it describes (architecture.hpp; batch norm and dropout are blocks there).
  // Inputs and classes come from the data.
  std::string arch;
  std::vector<Index> hidden = {256, 128};
  Activation activation = Activation::ReLU;
  bool batch_norm = false;
  double dropout = 0.0;
  Init init = Init::KaimingUniform;
  // Optimizer: sgd, adam, adamw, rmsprop, adagrad.
  std::string optimizer = "adam";
  double lr = 1e-3;
  double momentum = 0.0;       // sgd, rmsprop
  bool nesterov = false;       // sgd
  double weight_decay = 0.0;   // coupled (sgd, adam, rmsprop, adagrad) or decoupled (adamw)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // Loss and regularization.
  double l1 = 0.0, l2 = 0.0;
  double label_smoothing = 0.0;
  // Schedule: constant, cosine, warmup_cosine, step. Updated every step.
  std::string schedule = "constant";
  double min_lr = 0.0;         // cosine floor
  int warmup_epochs = 0;       // warmup_cosine
  int step_epochs = 10;        // step: decay every this many epochs
  double gamma = 0.1;          // step: decay factor
  // Loop.
  int epochs = 30;
  int patience = 0;            // early stopping on val_loss; 0 = off
  Index batch_size = 128;
  double min_delta = 0.0;
  std::uint64_t seed = 42;     // weights, dropout masks, shuffling
  // Data protocol.
  std::uint64_t split_seed = 42;
  Index validation = 10000;    // images carved out of the training set for validation
  Index train_limit = 0;       // use only the first N training (and N/5 validation) images; 0 = all
  // Threads of the matrix products and the other parallel passes. They change no bit of the results
  // (since the fourth performance round), so the count is recorded but is not part of what a run is
  // (identity()): a run resumes, and a study reuses a cell, at any count. A stored run written before
  // bits_at_any_threads existed lacks it; at 2 or more threads its bits may depend on the count
  // (they did before the fourth round), so for it the count stays part of the run, and no run of
  // this version matches it.
  int threads = 1;
  bool bits_at_any_threads = true;
  // Precision of the matrix products: fp32, or bf16 inputs with fp32 accumulation (core/precision.hpp).
  MatmulPrecision precision = MatmulPrecision::Float32;

  // The optimizer and schedule names (checked first: the flags that apply to some of them only are
  // judged by them).
  void validate_names() const {
    detail::require(optimizer == "sgd" || optimizer == "adam" || optimizer == "adamw" ||
                        optimizer == "rmsprop" || optimizer == "adagrad",
                    "unknown optimizer '", optimizer, "' (expected sgd, adam, adamw, rmsprop or adagrad)");
    detail::require(schedule == "constant" || schedule == "cosine" || schedule == "warmup_cosine" ||
                        schedule == "step",
                    "unknown schedule '", schedule, "' (expected constant, cosine, warmup_cosine or step)");
  }
  // Throws InvalidArgument naming the first bad field.
  void validate() const {
    validate_names();
    if (!arch.empty()) {
      detail::require(hidden.empty() && !batch_norm && dropout == 0.0, "the model is given by its architecture '",
                      arch, "': hidden widths, batch_norm and dropout are for MLPs given by widths (write "
                      "them as blocks instead, e.g. fc128bn,drop0.2)");
      parse_architecture(arch);
    }
    detail::require(threads >= 1 && threads <= 1024, "threads has to be from 1 to 1024, but got ", threads);
    detail::require(seed <= static_cast<std::uint64_t>(kMaxSeed) && split_seed <= static_cast<std::uint64_t>(kMaxSeed),
                    "seeds have to be at most 2^53 - 1, but got ", seed, " and ", split_seed);
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      detail::require(hidden[i] > 0, "hidden layer ", i, " has to have a positive width, but got ", hidden[i]);
    }
    detail::require(dropout >= 0.0 && dropout < 1.0, "dropout probability has to be in [0, 1), but got ", dropout);
    detail::require(std::isfinite(lr) && lr > 0.0, "learning rate has to be positive, but got ", lr);
    detail::require(min_lr >= 0.0 && min_lr <= lr, "min_lr has to be in [0, lr], but got ", min_lr);
    detail::require(epochs >= 1, "epochs has to be at least 1, but got ", epochs);
    detail::require(warmup_epochs >= 0 && (schedule != "warmup_cosine" || warmup_epochs < epochs),
                    "warmup_epochs has to be in [0, epochs), but got ", warmup_epochs);
    detail::require(step_epochs >= 1, "step_epochs has to be at least 1, but got ", step_epochs);
    detail::require(gamma > 0.0 && gamma <= 1.0, "gamma has to be in (0, 1], but got ", gamma);
    detail::require(batch_size >= 1, "batch size has to be at least 1, but got ", batch_size);
    detail::require(patience >= 0, "patience has to be >= 0, but got ", patience);
    detail::require(l1 >= 0.0 && l2 >= 0.0 && weight_decay >= 0.0,
                    "l1, l2 and weight_decay have to be >= 0, but got ", l1, ", ", l2, ", ", weight_decay);
    detail::require(label_smoothing >= 0.0 && label_smoothing < 1.0,
                    "label_smoothing has to be in [0, 1), but got ", label_smoothing);
    detail::require(validation >= 1, "validation has to be at least 1 image (the best checkpoint is "
                                     "chosen on it), but got ", validation);
    detail::require(train_limit >= 0, "train_limit has to be >= 0, but got ", train_limit);
  }

  // The training and validation images a run uses of those the split holds: all, or with
  // train_limit the first N training and N/5 (at least 1) validation images.
  Index train_images(Index available) const { return train_limit > 0 ? std::min(train_limit, available) : available; }
  Index validation_images(Index available) const {
    return train_limit > 0 ? std::min(std::max<Index>(train_limit / 5, 1), available) : available;
  }

  // The model's blocks, whichever way it is given.
  std::vector<ArchBlock> blocks() const {
    return arch.empty() ? mlp_blocks(hidden, batch_norm, dropout) : parse_architecture(arch);
  }
  // "784-256-128-10 relu" for an MLP, or its architecture text.
  std::string describe_model(Index inputs, Index classes) const {
    if (!arch.empty()) return arch + " " + to_string(activation);
    return model_spec(inputs, classes).describe();
  }

  MlpSpec model_spec(Index inputs, Index classes) const {
    MlpSpec spec;
    spec.inputs = inputs;
    spec.hidden = hidden;
    spec.classes = classes;
    spec.activation = activation;
    spec.batch_norm = batch_norm;
    spec.dropout = dropout;
    spec.init = init;
    return spec;
  }

  template <class S = float>
  std::unique_ptr<Optimizer<S>> make_optimizer(std::vector<TensorRef<S>> params) const {
    if (optimizer == "sgd") {
      return std::make_unique<SGD<S>>(std::move(params), SGDOptions{lr, momentum, nesterov, weight_decay});
    }
    if (optimizer == "adam") {
      return std::make_unique<Adam<S>>(std::move(params), AdamOptions{lr, beta1, beta2, eps, weight_decay});
    }
    if (optimizer == "adamw") {
      return std::make_unique<AdamW<S>>(std::move(params), AdamWOptions{lr, beta1, beta2, eps, weight_decay});
    }
    if (optimizer == "rmsprop") {
      RMSpropOptions o;
      o.lr = lr;
      o.eps = eps;
      o.momentum = momentum;
      o.weight_decay = weight_decay;
      return std::make_unique<RMSprop<S>>(std::move(params), o);
    }
    if (optimizer == "adagrad") {
      AdagradOptions o;
      o.lr = lr;
      o.weight_decay = weight_decay;
      return std::make_unique<Adagrad<S>>(std::move(params), o);
    }
    detail::fail("unknown optimizer '", optimizer, "'");
  }

  // The schedule over the optimizer's base rate `lr`; none for "constant". cosine and
  // warmup_cosine count steps (updated every step), step counts epochs.
  std::unique_ptr<Schedule> make_schedule(Index steps_per_epoch) const {
    const std::int64_t total = static_cast<std::int64_t>(epochs) * steps_per_epoch;
    if (schedule == "cosine") return std::make_unique<CosineAnnealingLR>(Steps{total}, min_lr);
    if (schedule == "warmup_cosine") {
      const std::int64_t warmup = static_cast<std::int64_t>(warmup_epochs) * steps_per_epoch;
      if (warmup == 0) return std::make_unique<CosineAnnealingLR>(Steps{total}, min_lr);
      auto s = std::make_unique<SequentialLR>(LinearLR(1.0 / static_cast<double>(warmup), 1.0, Steps{warmup}));
      s->then(Steps{warmup}, CosineAnnealingLR(Steps{total - warmup}, min_lr));
      return s;
    }
    if (schedule == "step") return std::make_unique<StepLR>(Epochs{step_epochs}, gamma);
    return nullptr;
  }

  Json to_json() const {
    Json j = Json::object();
    j["dataset"] = to_string(dataset);
    j["arch"] = arch;
    j["hidden"] = Json::array_of(hidden);
    j["activation"] = to_string(activation);
    j["batch_norm"] = batch_norm;
    j["dropout"] = dropout;
    j["init"] = to_string(init);
    j["optimizer"] = optimizer;
    j["lr"] = lr;
    j["momentum"] = momentum;
    j["nesterov"] = nesterov;
    j["weight_decay"] = weight_decay;
    j["beta1"] = beta1;
    j["beta2"] = beta2;
    j["eps"] = eps;
    j["l1"] = l1;
    j["l2"] = l2;
    j["label_smoothing"] = label_smoothing;
    j["schedule"] = schedule;
    j["min_lr"] = min_lr;
    j["warmup_epochs"] = warmup_epochs;
    j["step_epochs"] = step_epochs;
    j["gamma"] = gamma;
    j["epochs"] = epochs;
    j["batch_size"] = batch_size;
    j["patience"] = patience;
    j["min_delta"] = min_delta;
    j["seed"] = static_cast<long long>(seed);
    j["split_seed"] = static_cast<long long>(split_seed);
    j["validation"] = validation;
    j["train_limit"] = train_limit;
    j["threads"] = threads;
    j["bits_at_any_threads"] = bits_at_any_threads;
    j["precision"] = to_string(precision);
    return j;
  }

  // What decides a run's results: to_json() without the thread count, which stays only for a run of
  // an older version at 2 or more threads (see threads above).
  Json identity() const {
    const Json all = to_json();  // named: a range over a temporary's members would dangle
    Json j = Json::object();
    for (const auto& [key, value] : all.members()) {
      if (key != "threads" && key != "bits_at_any_threads") j[key] = value;
    }
    if (!bits_at_any_threads && threads > 1) j["threads"] = threads;
    return j;
  }

  static RunConfig from_json(const Json& j) {
    RunConfig c;
    c.dataset = parse_dataset_kind(j.at("dataset").string());
    c.arch = j.at("arch").string();
    c.hidden.clear();
    for (const Json& h : j.at("hidden").elements()) c.hidden.push_back(static_cast<Index>(h.integer(1, kMaxWidth)));
    c.activation = parse_activation(j.at("activation").string());
    c.batch_norm = j.at("batch_norm").boolean();
    c.dropout = j.at("dropout").number();
    c.init = parse_init(j.at("init").string());
    c.optimizer = j.at("optimizer").string();
    c.lr = j.at("lr").number();
    c.momentum = j.at("momentum").number();
    c.nesterov = j.at("nesterov").boolean();
    c.weight_decay = j.at("weight_decay").number();
    c.beta1 = j.at("beta1").number();
    c.beta2 = j.at("beta2").number();
    c.eps = j.at("eps").number();
    c.l1 = j.at("l1").number();
    c.l2 = j.at("l2").number();
    c.label_smoothing = j.at("label_smoothing").number();
    c.schedule = j.at("schedule").string();
    c.min_lr = j.at("min_lr").number();
    c.warmup_epochs = static_cast<int>(j.at("warmup_epochs").integer(0, kMaxEpochs));
    c.step_epochs = static_cast<int>(j.at("step_epochs").integer(1, kMaxEpochs));
    c.gamma = j.at("gamma").number();
    c.epochs = static_cast<int>(j.at("epochs").integer(1, kMaxEpochs));
    c.batch_size = static_cast<Index>(j.at("batch_size").integer(1, kMaxCount));
    c.patience = static_cast<int>(j.at("patience").integer(0, kMaxEpochs));
    c.min_delta = j.at("min_delta").number();
    c.seed = static_cast<std::uint64_t>(j.at("seed").integer(0, kMaxSeed));
    c.split_seed = static_cast<std::uint64_t>(j.at("split_seed").integer(0, kMaxSeed));
    c.validation = static_cast<Index>(j.at("validation").integer(1, kMaxCount));
    c.train_limit = static_cast<Index>(j.at("train_limit").integer(0, kMaxCount));
    c.threads = static_cast<int>(j.at("threads").integer(1, 1024));
    c.bits_at_any_threads = j.contains("bits_at_any_threads") && j.at("bits_at_any_threads").boolean();
    c.precision = parse_matmul_precision(j.at("precision").string());
    c.validate();
    return c;
  }

  // "precision bf16 here, fp32 there; lr 0.01 here, 0.001 there": what differs in identity(), for
  // messages. Names such as bf16 or adam go unquoted, an empty text as "".
  std::string difference(const RunConfig& other) const {
    const Json a = identity(), b = other.identity();
    auto text_of = [](const Json& v) {
      return v.type() == Json::Type::String && !v.string().empty() ? v.string() : v.dump(0);
    };
    std::string text;
    auto add = [&text](const std::string& part) { text += (text.empty() ? "" : "; ") + part; };
    for (const auto& [key, value] : a.members()) {
      if (!b.contains(key) || b.at(key) == value) continue;
      add(detail::concat(key, " ", text_of(value), " here, ", text_of(b.at(key)), " there"));
    }
    // Only an older version's run at 2 or more threads has its thread count in identity().
    const auto older = [](const RunConfig& c, const char* where) {
      return detail::concat("threads ", c.threads, " ", where, " in a run of an older version, whose results may depend "
                            "on the thread count: no run of this version matches it");
    };
    if (a.contains("threads") != b.contains("threads")) add(a.contains("threads") ? older(*this, "here") : older(other, "there"));
    return text;
  }

  bool operator==(const RunConfig& o) const { return identity() == o.identity(); }
  bool operator!=(const RunConfig& o) const { return !(*this == o); }
};

}  // namespace mlp::app
