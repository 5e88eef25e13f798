// train: one configurable training run on FashionMNIST (or MNIST, CIFAR-10), e.g.
//
//   train --hidden 256,128 --batch-norm --dropout 0.2 --optimizer adam --lr 1e-3 --l2 1e-4
//         --schedule cosine --epochs 30 --patience 5 --seed 42 --out runs/my_run [--resume]
//
// Writes metrics.csv, TensorBoard events, best.mlp and summary.json into --out (see --help).
#include "common/cli.hpp"
#include "common/interrupt.hpp"
#include "common/threads.hpp"

#include <mlp/data/locate.hpp>
#include <mlp/train/run.hpp>

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace {

mlp::RunConfig config_from_flags(const cxxopts::ParseResult& f) {
  mlp::RunConfig c;
  c.dataset = mlp::parse_dataset_kind(f["dataset"].as<std::string>());
  c.hidden = cli::parse_sizes(f["hidden"].as<std::string>(), "hidden");
  c.activation = mlp::parse_activation(f["activation"].as<std::string>());
  c.batch_norm = f["batch-norm"].as<bool>();
  c.dropout = cli::real_flag(f, "dropout", 0.0, 0.99);
  c.init = mlp::parse_init(f["init"].as<std::string>());
  c.optimizer = f["optimizer"].as<std::string>();
  c.lr = cli::real_flag(f, "lr", 1e-12, 1e6);
  c.momentum = cli::real_flag(f, "momentum", 0.0, 0.999);
  c.nesterov = f["nesterov"].as<bool>();
  c.weight_decay = cli::real_flag(f, "weight-decay", 0.0, 10.0);
  c.beta1 = cli::real_flag(f, "beta1", 0.0, 0.999999);
  c.beta2 = cli::real_flag(f, "beta2", 0.0, 0.999999999);
  c.eps = cli::real_flag(f, "eps", 1e-30, 1.0);
  c.l1 = cli::real_flag(f, "l1", 0.0, 10.0);
  c.l2 = cli::real_flag(f, "l2", 0.0, 10.0);
  c.label_smoothing = cli::real_flag(f, "label-smoothing", 0.0, 0.99);
  c.schedule = f["schedule"].as<std::string>();
  c.min_lr = cli::real_flag(f, "min-lr", 0.0, 1e6);
  c.warmup_epochs = static_cast<int>(cli::int_flag(f, "warmup-epochs", 0, 100000));
  c.step_epochs = static_cast<int>(cli::int_flag(f, "step-epochs", 1, 100000));
  c.gamma = cli::real_flag(f, "gamma", 1e-6, 1.0);
  c.epochs = static_cast<int>(cli::int_flag(f, "epochs", 1, 100000));
  c.batch_size = cli::int_flag(f, "batch-size", 1, 1 << 20);
  c.patience = static_cast<int>(cli::int_flag(f, "patience", 0, 100000));
  c.min_delta = cli::real_flag(f, "min-delta", 0.0, 1e6);
  c.seed = static_cast<std::uint64_t>(cli::int_flag(f, "seed", 0, INT64_MAX));
  c.split_seed = static_cast<std::uint64_t>(cli::int_flag(f, "split-seed", 0, INT64_MAX));
  c.validation = cli::int_flag(f, "validation", 1, 1000000000);
  c.train_limit = cli::int_flag(f, "train-limit", 0, 1000000000);
  c.validate();
  return c;
}

void print_result(const mlp::RunResult& r, const std::string& out) {
  std::printf("%s\n", r.history.stop_reason.c_str());
  if (r.best_epoch > 0) {
    const auto& best = r.history.epochs[static_cast<std::size_t>(r.best_epoch - 1)];
    std::printf("best epoch %d of %zu: val loss %.4f, val accuracy %.2f%%\n", r.best_epoch,
                r.history.epochs.size(), best.val_loss, 100.0 * best.val_acc);
  }
  std::printf("test (best checkpoint): loss %.4f, accuracy %.2f%%\n", r.test_best.loss,
              100.0 * r.test_best.accuracy);
  std::printf("test (last epoch):      loss %.4f, accuracy %.2f%%\n", r.test_last.loss,
              100.0 * r.test_last.accuracy);
  std::printf("%zu epochs in %.1f s, %lld parameters\n", r.history.epochs.size(), r.train_seconds,
              static_cast<long long>(r.parameters));
  std::printf("wrote %s/{metrics.csv, events.out.tfevents.*, best.mlp, summary.json}\n", out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("train", [&] {
    cxxopts::Options options("train", "Train one MLP and write its logs, best model and summary");
    auto d = [](const char* value) { return cxxopts::value<std::string>()->default_value(value); };
    options.add_options("Data")
      ("dataset", "fashion-mnist, mnist or cifar10", d("fashion-mnist"))
      ("data", "folder with the data files (default: search $MLP_DATA, ./data/<dataset>, /usr/share/datasets/<dataset>)", d(""))
      ("validation", "validation images carved out of the training set (stratified)", d("10000"))
      ("split-seed", "seed of the validation split", d("42"))
      ("train-limit", "use only the first N training images (N/5 for validation); 0 = all", d("0"));
    options.add_options("Model")
      ("hidden", "hidden layer widths, comma-separated ('none' for a linear model)", d("256,128"))
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
      ("threads", "threads for matrix products", d("1"))
      ("out", "output folder", d("runs/train"))
      ("resume", "continue from <out>/checkpoint.mlpckpt (same flags), or report a finished run",
       cxxopts::value<bool>()->default_value("false"))
      ("quiet", "print only the final summary", cxxopts::value<bool>()->default_value("false"))
      ("h,help", "print this help");
    const auto flags = options.parse(argc, argv);
    if (flags.count("help")) {
      std::cout << options.help({"Data", "Model", "Optimization", "Training"}) << "\n";
      return 0;
    }
    cli::reject_unmatched(flags);
    const mlp::RunConfig config = config_from_flags(flags);
    const int threads = cli::set_threads(static_cast<int>(cli::int_flag(flags, "threads", 1, 256)));
    const std::string out = flags["out"].as<std::string>();
    const bool resume = flags["resume"].as<bool>();

    const auto dir = mlp::locate_dataset(config.dataset, flags["data"].as<std::string>());
    const mlp::PreparedData data = mlp::prepare_data(config.dataset, dir, config.validation, config.split_seed);
    if (resume) {
      if (auto done = mlp::load_finished_run(out, config, data.split.fingerprint_hex())) {
        std::printf("%s already holds this finished run; nothing to do\n", out.c_str());
        print_result(*done, out);
        return 0;
      }
    }
    const bool quiet = flags["quiet"].as<bool>();
    if (!quiet) {
      std::printf("data: %s from %s, split %s (train %zu, validation %zu, test %lld)\n",
                  mlp::to_string(config.dataset), dir.string().c_str(),
                  data.split.fingerprint_hex().c_str(), data.split.train.size(),
                  data.split.validation.size(), static_cast<long long>(data.data.test.size()));
      std::printf("model: %s; optimizer %s lr %g; schedule %s; %d epochs; %d thread%s\n",
                  config.model_spec(data.data.train.features(), data.data.train.classes()).describe().c_str(),
                  config.optimizer.c_str(), config.lr, config.schedule.c_str(), config.epochs,
                  threads, threads == 1 ? "" : "s");
    }
    cli::install_interrupt_handler();
    mlp::RunOptions run_options;
    run_options.progress = quiet ? nullptr : &std::cout;
    run_options.live_progress = isatty(STDOUT_FILENO) != 0;
    run_options.resume = resume;
    run_options.interrupt = &cli::interrupt_flag();
    run_options.threads = threads;
    const mlp::RunResult result = mlp::run_training(config, data, out, run_options);
    if (result.interrupted) {
      std::printf("%s\ncheckpoint written to %s/checkpoint.mlpckpt; continue with the same command "
                  "and --resume\n", result.history.stop_reason.c_str(), out.c_str());
      return 130;
    }
    if (result.resumed && !quiet) std::printf("(resumed from a checkpoint)\n");
    print_result(result, out);
    if (result.history.diverged) {
      std::fprintf(stderr, "train: training diverged: %s\n", result.history.stop_reason.c_str());
      return cli::kExitFailure;
    }
    return 0;
  });
}
