// The `train` program's flags and their conversion into a RunConfig, apart from the program so
// that the flag fuzzer (tests/fuzz/fuzz_flags.cpp) exercises exactly this code.
#pragma once

#include "cli.hpp"

#include <mlp_app/run_config.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace cli {

inline cxxopts::Options train_options() {
  cxxopts::Options options("train", "Train one network (an MLP, or any stack of blocks with --arch) and write its logs, best model and summary");
  auto d = [](const char* value) { return cxxopts::value<std::string>()->default_value(value); };
  options.add_options("Data")
    ("dataset", "fashion-mnist, mnist or cifar10", d("fashion-mnist"))
    ("data", "folder with the data files (default: search $MLP_DATA, ./data/<dataset>, /usr/share/datasets/<dataset>)",
     cxxopts::value<std::string>())
    ("validation", "validation images carved out of the training set (stratified)", d("10000"))
    ("split-seed", "seed of the validation split", d("42"))
    ("train-limit", "use only the first N training images (N/5 for validation); 0 = all", d("0"));
  options.add_options("Model")
    ("arch", "the model as blocks, e.g. conv32bn,pool,conv64bn,pool,fc128 (conv<C>[k<K>][bn], pool[<K>], "
             "avgpool[<K>], fc<N>[bn], drop<P>); instead of --hidden", d(""))
    ("hidden", "hidden layer widths of an MLP, comma-separated ('none' for a linear model)", d("256,128"))
    ("activation", "relu, leaky_relu, sigmoid or tanh", d("relu"))
    ("batch-norm", "BatchNorm1d after every hidden Linear", cxxopts::value<bool>()->default_value("false"))
    ("dropout", "dropout probability after every hidden activation", d("0"))
    ("init", "kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal or torch_default", d("kaiming_uniform"));
  options.add_options("Optimization")
    ("optimizer", "sgd, adam, adamw, rmsprop or adagrad", d("adam"))
    ("lr", "learning rate", d("1e-3"))
    ("momentum", "momentum (sgd, rmsprop)", d("0"))
    ("nesterov", "Nesterov momentum (sgd)", cxxopts::value<bool>()->default_value("false"))
    ("weight-decay", "weight decay on weights (decoupled for adamw)", d("0"))
    ("beta1", "Adam beta1", d("0.9"))
    ("beta2", "Adam beta2", d("0.999"))
    ("eps", "Adam / RMSProp epsilon", d("1e-8"))
    ("l1", "L1 penalty lambda * sum |w| on weights", d("0"))
    ("l2", "L2 penalty lambda * sum w^2 on weights", d("0"))
    ("label-smoothing", "label smoothing of the training loss", d("0"))
    ("schedule", "constant, cosine, warmup_cosine or step (updated every step)", d("constant"))
    ("min-lr", "final learning rate of the cosine schedules", d("0"))
    ("warmup-epochs", "linear warmup epochs (warmup_cosine)", d("0"))
    ("step-epochs", "decay every this many epochs (step)", d("10"))
    ("gamma", "decay factor (step)", d("0.1"));
  options.add_options("Training")
    ("epochs", "epochs", d("30"))
    ("batch-size", "batch size", d("128"))
    ("patience", "early stopping patience on val_loss; 0 = no early stopping", d("0"))
    ("min-delta", "smallest val_loss decrease that counts as an improvement", d("0"))
    ("seed", "seed of weights, dropout and shuffling", d("42"))
    ("threads", "threads for matrix products and the other parallel passes (the results are the same bits at "
                "any count, so a run may resume at another)", d("1"))
    ("precision", "matrix products: fp32, or bf16 (bfloat16 inputs, fp32 accumulation; faster only where "
                  "AVX512_BF16 runs at full rate, e.g. AMD Zen 4/5: docs/bf16.md)",
     d("fp32"))
    ("out", "output folder", d("runs/train"))
    ("force", "use an output folder that holds files but is not an mlp run folder",
     cxxopts::value<bool>()->default_value("false"))
    ("resume", "continue from <out>/checkpoint.mlpckpt (same flags), or report a finished run",
     cxxopts::value<bool>()->default_value("false"))
    ("quiet", "print only the final summary", cxxopts::value<bool>()->default_value("false"))
    ("h,help", "print this help");
  return options;
}

// --threads, checked: at most the machine's cores (more only wait on each other).
inline int threads_from_flags(const cxxopts::ParseResult& f) {
  return static_cast<int>(int_flag(f, "threads", 1, machine_cores()));
}

// A flag given for an optimizer or schedule that does not use it was ignored without a word (and
// stored in the run's configuration); now it is a usage error that says what it is for.
inline void check_flags_apply(const cxxopts::ParseResult& f, const mlp::app::RunConfig& c) {
  struct Use {
    const char* flag;
    const char* setting;  // "optimizer" or "schedule"
    std::vector<std::string> values;
  };
  const std::vector<Use> uses = {{"momentum", "optimizer", {"sgd", "rmsprop"}},
                                 {"nesterov", "optimizer", {"sgd"}},
                                 {"beta1", "optimizer", {"adam", "adamw"}},
                                 {"beta2", "optimizer", {"adam", "adamw"}},
                                 {"eps", "optimizer", {"adam", "adamw", "rmsprop"}},
                                 {"min-lr", "schedule", {"cosine", "warmup_cosine"}},
                                 {"warmup-epochs", "schedule", {"warmup_cosine"}},
                                 {"step-epochs", "schedule", {"step"}},
                                 {"gamma", "schedule", {"step"}}};
  if (f.count("min-delta") > 0 && c.patience == 0) {
    throw UsageError("--min-delta does not apply without --patience (early stopping is off)");
  }
  for (const Use& u : uses) {
    if (f.count(u.flag) == 0) continue;
    const std::string& value = std::string(u.setting) == "optimizer" ? c.optimizer : c.schedule;
    if (std::find(u.values.begin(), u.values.end(), value) != u.values.end()) continue;
    std::string list;
    for (std::size_t i = 0; i < u.values.size(); ++i) list += (i == 0 ? "" : " or ") + u.values[i];
    throw UsageError(std::string("--") + u.flag + " does not apply to --" + u.setting + " " + value + " (it is for " +
                     list + ")");
  }
}

// Every value is checked and a bad one named: UsageError for flags, InvalidArgument for the
// configuration as a whole.
inline mlp::app::RunConfig config_from_flags(const cxxopts::ParseResult& f) {
  mlp::app::RunConfig c;
  c.dataset = mlp::parse_dataset_kind(f["dataset"].as<std::string>());
  c.arch = f["arch"].as<std::string>();
  if (!c.arch.empty() && f.count("hidden") > 0) {
    throw UsageError("--arch and --hidden both describe the model: give one of them");
  }
  // (an empty --arch was the default MLP, an empty --hidden a linear model)
  if (f.count("arch") > 0 && c.arch.empty()) throw UsageError("--arch: no block given");
  if (f.count("hidden") > 0 && f["hidden"].as<std::string>().empty()) {
    throw UsageError("--hidden: no width given ('none' for a linear model)");
  }
  c.hidden = c.arch.empty() ? parse_sizes(f["hidden"].as<std::string>(), "hidden") : std::vector<mlp::Index>{};
  c.activation = mlp::parse_activation(f["activation"].as<std::string>());
  c.batch_norm = f["batch-norm"].as<bool>();
  c.dropout = real_flag(f, "dropout", 0.0, 0.99);
  c.init = mlp::parse_init(f["init"].as<std::string>());
  c.optimizer = f["optimizer"].as<std::string>();
  c.lr = real_flag(f, "lr", 1e-12, 1e6);
  c.momentum = real_flag(f, "momentum", 0.0, 0.999);
  c.nesterov = f["nesterov"].as<bool>();
  c.weight_decay = real_flag(f, "weight-decay", 0.0, 10.0);
  c.beta1 = real_flag(f, "beta1", 0.0, 0.999999);
  c.beta2 = real_flag(f, "beta2", 0.0, 0.999999999);
  c.eps = real_flag(f, "eps", 1e-30, 1.0);
  c.l1 = real_flag(f, "l1", 0.0, 10.0);
  c.l2 = real_flag(f, "l2", 0.0, 10.0);
  c.label_smoothing = real_flag(f, "label-smoothing", 0.0, 0.99);
  c.schedule = f["schedule"].as<std::string>();
  c.min_lr = real_flag(f, "min-lr", 0.0, 1e6);
  c.warmup_epochs = static_cast<int>(int_flag(f, "warmup-epochs", 0, 100000));
  c.step_epochs = static_cast<int>(int_flag(f, "step-epochs", 1, 100000));
  c.gamma = real_flag(f, "gamma", 1e-6, 1.0);
  c.epochs = static_cast<int>(int_flag(f, "epochs", 1, 100000));
  c.batch_size = int_flag(f, "batch-size", 1, 1 << 20);
  c.patience = static_cast<int>(int_flag(f, "patience", 0, 100000));
  c.min_delta = real_flag(f, "min-delta", 0.0, 1e6);
  c.seed = static_cast<std::uint64_t>(int_flag(f, "seed", 0, mlp::app::RunConfig::kMaxSeed));
  c.split_seed = static_cast<std::uint64_t>(int_flag(f, "split-seed", 0, mlp::app::RunConfig::kMaxSeed));
  c.validation = int_flag(f, "validation", 1, 1000000000);
  c.train_limit = int_flag(f, "train-limit", 0, 1000000000);
  c.threads = threads_from_flags(f);
  c.precision = precision_flag(f["precision"].as<std::string>());
  if (f["out"].as<std::string>().empty()) throw UsageError("--out must not be empty (use . for the current folder)");
  c.validate_names();       // a misspelled --optimizer is named as such, not as a flag that does not apply to it
  check_flags_apply(f, c);  // before validate(): "--min-lr does not apply" says more than a range
  c.validate();
  return c;
}

}  // namespace cli
