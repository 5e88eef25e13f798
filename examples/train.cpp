// train: one configurable training run on FashionMNIST (or MNIST, CIFAR-10), e.g.
//
//   train --hidden 256,128 --batch-norm --dropout 0.2 --optimizer adam --lr 1e-3 --l2 1e-4
//         --schedule cosine --epochs 30 --patience 5 --seed 42 --out runs/my_run [--resume]
//
// Writes metrics.csv, TensorBoard events, best.mlp and summary.json into --out (see --help).
#include "common/cli.hpp"
#include "common/data_facts.hpp"
#include "common/train_flags.hpp"
#include "common/interrupt.hpp"
#include "common/terminal.hpp"
#include "common/threads.hpp"

#include <mlp/core/text_format.hpp>
#include <mlp/data/locate.hpp>
#include <mlp_app/run.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <system_error>

namespace {

// The result of a run, with how it ended (once; a divergence is reported on stderr instead).
void print_result(const mlp::app::RunResult& r, const std::string& out) {
  if (!r.history.diverged) std::printf("%s\n", r.history.stop_reason.c_str());
  auto number = [](double v) { return mlp::detail::number_text(v); };
  if (r.best_epoch > 0) {
    const auto& best = r.history.epochs[static_cast<std::size_t>(r.best_epoch - 1)];
    std::printf("best epoch %d of %zu: val loss %.4f, val accuracy %.2f%%\n", r.best_epoch,
                r.history.epochs.size(), best.val_loss, 100.0 * best.val_acc);
    std::printf("test (best checkpoint): loss %s, accuracy %.2f%%\n", number(r.test_best.loss).c_str(),
                100.0 * r.test_best.accuracy);
    std::printf("test (last epoch):      loss %s, accuracy %.2f%%\n", number(r.test_last.loss).c_str(),
                100.0 * r.test_last.accuracy);
  } else {
    std::printf("no epoch ended with a finite validation loss, so there is no best checkpoint\n");
    std::printf("test (weights when training stopped): loss %s, accuracy %.2f%%\n",
                number(r.test_best.loss).c_str(), 100.0 * r.test_best.accuracy);
  }
  std::printf("%zu epoch%s in %.1f s, %lld parameters\n", r.history.epochs.size(),
              r.history.epochs.size() == 1 ? "" : "s", r.train_seconds,
              static_cast<long long>(r.parameters));
  std::printf("wrote %s/{metrics.csv, events.out.tfevents.*, %ssummary.json}\n", out.c_str(),
              r.best_epoch > 0 ? "best.mlp, " : "");
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("train", [&] {
    cxxopts::Options options = cli::train_options();
    const auto parsed = cli::parse_flags(options, argc, argv, {"Data", "Model", "Optimization", "Training"});
    if (!parsed) return 0;
    const cxxopts::ParseResult& flags = *parsed;
    mlp::app::RunConfig config = cli::config_from_flags(flags);
    config.threads = cli::set_threads(config.threads);  // 1 in a build without OpenMP
    const int threads = config.threads;
    const std::string out = flags["out"].as<std::string>();
    const bool resume = flags["resume"].as<bool>();

    const auto dir = mlp::locate_dataset(config.dataset, cli::text_flag(flags, "data"));
    const mlp::PreparedData data =
        cli::prepare_with_validation(flags, config.dataset, dir, config.validation, config.split_seed);
    const auto folder = mlp::app::inspect_run_folder(out, config, mlp::app::DataIdentity(data));
    if (resume && folder.kind == mlp::app::FolderRun::Kind::Finished) {
      std::printf("%s already holds this finished run; nothing to do\n", out.c_str());
      print_result(*folder.result, out);
      return 0;
    }
    if (resume && !folder.problem.empty()) {  // (the run is trained again: say why its result was not used)
      std::fprintf(stderr, "note: --resume: the run in %s is not taken as finished: %s\n",
                   out.c_str(), cli::one_line(folder.problem).c_str());
    }
    if (resume && folder.kind == mlp::app::FolderRun::Kind::OtherRun) {
      throw cli::UsageError("--resume: " + out + " holds a finished run of another configuration (" +
                            folder.difference + "); use the same flags, or another --out");
    }
    std::error_code no_file;  // (a checkpoint path that is something else is refused when the run starts)
    if (resume && !std::filesystem::exists(std::filesystem::path(out) / "checkpoint.mlpckpt", no_file)) {
      std::fprintf(stderr, "note: --resume: %s holds no checkpoint: the run starts from the beginning\n", out.c_str());
    }
    const bool quiet = flags["quiet"].as<bool>();
    if (!quiet) {
      // the images the run uses (--train-limit takes some)
      const auto train_images = config.train_images(static_cast<mlp::Index>(data.split.train.size()));
      const auto validation_images = config.validation_images(static_cast<mlp::Index>(data.split.validation.size()));
      std::printf("data: %s from %s, split %s (train %lld, validation %lld, test %lld%s)\n",
                  mlp::to_string(config.dataset), dir.string().c_str(), data.split.fingerprint_hex().c_str(),
                  static_cast<long long>(train_images), static_cast<long long>(validation_images),
                  static_cast<long long>(data.data.test.size()), config.train_limit > 0 ? "; --train-limit" : "");
      std::printf("model: %s; optimizer %s lr %g; schedule %s; %d epoch%s; %d thread%s; %s products\n",
                  config.describe_model(data.data.train.features(), data.data.train.classes()).c_str(),
                  config.optimizer.c_str(), config.lr, config.schedule.c_str(), config.epochs, config.epochs == 1 ? "" : "s",
                  threads, threads == 1 ? "" : "s", mlp::to_string(config.precision));
    }
    cli::note_precision(config.precision);
    cli::install_interrupt_handler();
    mlp::app::RunOptions run_options;
    run_options.progress = quiet ? nullptr : &std::cout;
    run_options.live_progress = cli::stdout_is_terminal();
    run_options.progress_width = cli::terminal_columns();
    run_options.resume = resume;
    run_options.adopt_folder = flags["force"].as<bool>();
    run_options.interrupt = &cli::interrupt_flag();
    const mlp::app::RunResult result = mlp::app::run_training(config, data, out, run_options);
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
