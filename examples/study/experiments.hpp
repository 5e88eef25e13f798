// The experiments of the study (docs/protocol.md): a baseline, eleven runs that each change
// exactly one thing, `best`, which combines what helped, and the CNN with an MLP of about as many
// parameters. Same split and preprocessing everywhere; every experiment runs with the same seeds
// (seeds.hpp), so each is compared with the baseline of the same seed.
#pragma once

#include <mlp_app/run_config.hpp>

#include <string>
#include <vector>

namespace study {

struct Experiment {
  std::string id;      // folder name under the output folder
  std::string label;   // short name in tables and legends
  std::string change;  // the one change from the baseline, in words
  mlp::app::RunConfig config;
};

// The baseline of docs/protocol.md: 784-256-128-10 ReLU, He uniform, Adam 1e-3, constant rate, batch
// 128, 30 epochs, no early stopping, no regularization, seed 42.
inline mlp::app::RunConfig baseline_config(mlp::DatasetKind dataset) {
  mlp::app::RunConfig c;
  c.dataset = dataset;
  c.hidden = {256, 128};
  c.optimizer = "adam";
  c.lr = 1e-3;
  c.schedule = "constant";
  c.epochs = 30;
  c.batch_size = 128;
  c.seed = 42;
  c.split_seed = 42;
  c.validation = 10000;
  return c;
}

// The combined configuration: candidate G of scripts/search-best-config.sh, the one whose best
// checkpoint had the highest validation accuracy. Chosen on validation results only
// (docs/experiments.md shows the search); the test set was looked at only after the choice.
inline mlp::app::RunConfig best_config(mlp::DatasetKind dataset) {
  mlp::app::RunConfig c = baseline_config(dataset);
  c.hidden = {1024, 1024};
  c.batch_norm = true;
  c.dropout = 0.4;
  c.optimizer = "adamw";
  c.lr = 2e-3;
  c.weight_decay = 0.05;
  c.label_smoothing = 0.1;
  c.schedule = "cosine";
  c.epochs = 40;
  c.patience = 10;
  return c;
}

// The CNN of docs/protocol.md: conv 3x3 (32) - BatchNorm2d - ReLU - max-pool 2 - conv 3x3 (64) -
// BatchNorm2d - ReLU - max-pool 2 - flatten - dense 128 - ReLU - dense 10: 421,834 parameters on
// FashionMNIST. Otherwise the baseline's protocol (Adam 1e-3, batch 128, at most 30 epochs, the
// best-val-loss checkpoint), with early stopping (patience 5): a CNN epoch costs 40 baseline epochs,
// and the checkpoint is the same unless the validation loss improves again after 5 worse epochs.
inline constexpr const char* kCnnArchitecture = "conv32bn,pool,conv64bn,pool,fc128";

inline mlp::app::RunConfig cnn_config(mlp::DatasetKind dataset) {
  mlp::app::RunConfig c = baseline_config(dataset);
  c.arch = kCnnArchitecture;
  c.hidden.clear();  // the architecture says everything, BatchNorm included
  c.patience = 5;
  return c;
}

// The MLP to compare the CNN with: about as many parameters (425,098 on FashionMNIST), BatchNorm and
// early stopping too, so that the one difference is convolution.
inline mlp::app::RunConfig mlp_matched_config(mlp::DatasetKind dataset) {
  mlp::app::RunConfig c = baseline_config(dataset);
  c.hidden = {480, 96};
  c.batch_norm = true;
  c.patience = 5;
  return c;
}

inline std::vector<Experiment> all_experiments(mlp::DatasetKind dataset) {
  const mlp::app::RunConfig base = baseline_config(dataset);
  std::vector<Experiment> list;
  auto add = [&](std::string id, std::string label, std::string change, auto&& modify) {
    mlp::app::RunConfig c = base;
    modify(c);
    list.push_back({std::move(id), std::move(label), std::move(change), c});
  };
  add("baseline", "baseline", "none", [](mlp::app::RunConfig&) {});
  add("early_stopping", "early stopping", "early stopping on val_loss, patience 5, best restored",
      [](mlp::app::RunConfig& c) { c.patience = 5; });
  add("arch_small", "small [32]", "hidden layers [32]", [](mlp::app::RunConfig& c) { c.hidden = {32}; });
  add("arch_large", "large [1024, 1024, 1024]", "hidden layers [1024, 1024, 1024]",
      [](mlp::app::RunConfig& c) { c.hidden = {1024, 1024, 1024}; });
  add("l1", "L1 1e-5", "L1 penalty, lambda 1e-5, on weights", [](mlp::app::RunConfig& c) { c.l1 = 1e-5; });
  add("l2", "L2 1e-4", "L2 penalty, lambda 1e-4, on weights", [](mlp::app::RunConfig& c) { c.l2 = 1e-4; });
  add("dropout", "dropout 0.2", "dropout p = 0.2 after every hidden activation",
      [](mlp::app::RunConfig& c) { c.dropout = 0.2; });
  add("cosine_lr", "cosine schedule", "cosine annealing from 1e-3 to 0 over the epochs, every step",
      [](mlp::app::RunConfig& c) { c.schedule = "cosine"; });
  add("batchnorm", "BatchNorm", "BatchNorm1d after every hidden Linear, before the activation",
      [](mlp::app::RunConfig& c) { c.batch_norm = true; });
  add("sgd", "SGD", "plain SGD, lr 0.01, no momentum", [](mlp::app::RunConfig& c) {
    c.optimizer = "sgd";
    c.lr = 0.01;
  });
  add("sgd_momentum", "SGD + momentum", "SGD, lr 0.01, momentum 0.9", [](mlp::app::RunConfig& c) {
    c.optimizer = "sgd";
    c.lr = 0.01;
    c.momentum = 0.9;
  });
  list.push_back({"best", "best", "combined: hidden [1024, 1024], BatchNorm, dropout 0.4, AdamW (lr 2e-3, weight decay 0.05), "
                  "label smoothing 0.1, cosine schedule, 40 epochs, early stopping (patience 10)", best_config(dataset)});
  list.push_back({"mlp_matched", "MLP [480, 96] + BatchNorm", "an MLP with about the CNN's parameter count: "
                  "hidden layers [480, 96], BatchNorm, early stopping (patience 5)", mlp_matched_config(dataset)});
  list.push_back({"cnn", "CNN", "a small CNN: " + std::string(kCnnArchitecture) +
                  ", early stopping (patience 5)", cnn_config(dataset)});
  return list;
}

// One figure per comparison: which runs it overlays and how each is labelled there.
struct Comparison {
  std::string id;     // figures/<id>.svg
  std::string title;
  std::vector<std::pair<std::string, std::string>> runs;  // (experiment id, legend label)
  bool lr_panel = false;
};

inline std::vector<Comparison> all_comparisons() {
  return {
      {"early_stopping", "Early stopping (patience 5) vs none",
       {{"baseline", "no early stopping (baseline)"}, {"early_stopping", "early stopping"}}},
      {"architecture", "Architecture: small, medium (baseline), large",
       {{"arch_small", "small [32]"}, {"baseline", "medium [256, 128] (baseline)"},
        {"arch_large", "large [1024 x 3]"}}},
      {"regularization", "Regularization: none, L1, L2, dropout",
       {{"baseline", "none (baseline)"}, {"l1", "L1 1e-5"}, {"l2", "L2 1e-4"}, {"dropout", "dropout 0.2"}}},
      {"schedule", "Learning rate: constant vs cosine annealing",
       {{"baseline", "constant 1e-3 (baseline)"}, {"cosine_lr", "cosine 1e-3 to 0"}},
       true},
      {"batchnorm", "BatchNorm vs none",
       {{"baseline", "no BatchNorm (baseline)"}, {"batchnorm", "BatchNorm"}}},
      {"optimizer", "Optimizer: Adam, SGD, SGD with momentum",
       {{"baseline", "Adam 1e-3 (baseline)"}, {"sgd", "SGD 0.01"}, {"sgd_momentum", "SGD 0.01 + momentum 0.9"}}},
      {"cnn_vs_mlp", "CNN vs an MLP with as many parameters",
       {{"mlp_matched", "MLP [480, 96] + BatchNorm"}, {"cnn", "CNN conv32-pool-conv64-pool-fc128"}}},
  };
}

}  // namespace study
