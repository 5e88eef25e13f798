// fashion_mnist_experiments: the whole study of ../shared/EXPERIMENTS.md in one command.
//
//   fashion_mnist_experiments [--data DIR] [--out runs] [--only id,id,...] [--epochs N]
//                             [--threads N] [--quick] [--force] [--dataset fashion-mnist|mnist|cifar10]
//
// Runs the baseline, the eleven one-change experiments and `best`, several at a time (one thread
// each), and writes per run metrics.csv, TensorBoard events, best.mlp and summary.json, and for the
// series samples.png, figures/*.svg and report.md. Finished runs are recognized by their summary
// and not recomputed; an interrupted study continues where it stopped.
#include "common/cli.hpp"
#include "common/data_facts.hpp"
#include "common/interrupt.hpp"
#include "common/line_stream.hpp"
#include "common/threads.hpp"
#include "study/experiments.hpp"
#include "study/figures.hpp"
#include "study/report.hpp"

#include <mlp/data/locate.hpp>
#include <mlp_app/sample_grid.hpp>
#include <mlp_app/run.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

// Relative cost of a run: epochs times multiply-adds per sample.
double estimated_cost(const mlp::app::RunConfig& c, mlp::Index inputs) {
  double macs = 0.0;
  mlp::Index width = inputs;
  for (mlp::Index h : c.hidden) macs += static_cast<double>(width * h), width = h;
  macs += static_cast<double>(width * 10);
  return macs * c.epochs * (c.train_limit > 0 ? c.train_limit : 50000);
}

struct Outcome {
  std::string id;
  mlp::app::RunResult result;
  std::string error;  // non-empty when the run failed
};

}  // namespace

int main(int argc, char** argv) {
  return cli::run("fashion_mnist_experiments", [&] {
    const auto program_start = std::chrono::steady_clock::now();
    cxxopts::Options options("fashion_mnist_experiments",
                             "The deep-learning good-practice study on FashionMNIST: every experiment, "
                             "figures and a report");
    auto d = [](const char* value) { return cxxopts::value<std::string>()->default_value(value); };
    options.add_options()
      ("data", "folder with the data files (default: search $MLP_DATA, ./data/<dataset>, /usr/share/datasets/<dataset>)", d(""))
      ("dataset", "fashion-mnist, mnist or cifar10", d("fashion-mnist"))
      ("out", "output folder (default: runs, or runs-quick with --quick)", d(""))
      ("only", "comma-separated experiment ids to run (default: all)", d(""))
      ("epochs", "epochs of every run (default: 30, and 40 for best; 2 with --quick)", d("0"))
      ("threads", "runs trained in parallel, one thread each", d("2"))
      ("quick", "smoke test: 2,000 training images (400 for validation), 2 epochs", cxxopts::value<bool>()->default_value("false"))
      ("force", "recompute runs even when their summary matches", cxxopts::value<bool>()->default_value("false"))
      ("list", "list the experiments and exit", cxxopts::value<bool>()->default_value("false"))
      ("h,help", "print this help");
    const auto flags = options.parse(argc, argv);
    if (flags.count("help")) {
      std::cout << options.help() << "\n";
      return 0;
    }
    cli::reject_unmatched(flags);
    const auto kind = mlp::parse_dataset_kind(flags["dataset"].as<std::string>());
    const bool quick = flags["quick"].as<bool>();
    const bool force = flags["force"].as<bool>();
    const int epochs = static_cast<int>(cli::int_flag(flags, "epochs", 0, 100000));
    const int jobs = static_cast<int>(cli::int_flag(flags, "threads", 1, cli::machine_cores()));
    std::string out_flag = flags["out"].as<std::string>();
    const std::filesystem::path out = out_flag.empty() ? (quick ? "runs-quick" : "runs") : out_flag;

    std::vector<study::Experiment> experiments = study::all_experiments(kind);
    if (flags["list"].as<bool>()) {
      for (const auto& x : experiments) std::printf("%-15s %s\n", x.id.c_str(), x.change.c_str());
      return 0;
    }
    std::set<std::string> only;
    for (const auto& id : mlp::detail::split(flags["only"].as<std::string>(), ',')) {
      const bool known = std::any_of(experiments.begin(), experiments.end(), [&](const auto& x) { return x.id == id; });
      if (!known) throw cli::UsageError("--only: unknown experiment '" + id + "' (see --list)");
      only.insert(id);
    }

    cli::set_threads(1);  // parallel runs, one thread each: fastest here, and bit-reproducible
    const auto dir = mlp::locate_dataset(kind, flags["data"].as<std::string>());
    mlp::TrainTestData loaded = mlp::load_dataset(kind, dir);
    const mlp::Index validation = mlp::default_validation_size(loaded.train.size());
    const mlp::PreparedData data = mlp::prepare_data(kind, dir, std::move(loaded), validation, 42);
    for (auto& x : experiments) {
      x.config.validation = validation;
      if (quick) x.config.train_limit = 2000, x.config.epochs = 2;
      if (epochs > 0) x.config.epochs = epochs;
      x.config.patience = std::min(x.config.patience, x.config.epochs);
    }
    const double data_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - program_start).count();
    std::ostringstream facts;
    cli::print_data_facts(facts, data);
    std::cout << facts.str();
    mlp::ensure_directory(out);
    mlp::app::write_png(out / "samples.png", mlp::app::make_sample_grid(data.data.train, data.split.train, 10, 3));
    std::printf("wrote %s\n\n", (out / "samples.png").string().c_str());

    // Runs finished earlier are loaded, the others queued, longest first.
    study::Results results;
    std::vector<const study::Experiment*> queue;
    for (const auto& x : experiments) {
      if (!only.empty() && !only.count(x.id)) {
        if (auto done = mlp::app::load_finished_run(out / x.id, x.config, data.split.fingerprint_hex())) {
          results[x.id] = *done;  // kept for the report and figures
        }
        continue;
      }
      if (force) {
        std::filesystem::remove_all(out / x.id);
      } else if (auto done = mlp::app::load_finished_run(out / x.id, x.config, data.split.fingerprint_hex())) {
        std::printf("[%s] finished earlier with this configuration (%s): not recomputed\n", x.id.c_str(),
                    (out / x.id / "summary.json").string().c_str());
        results[x.id] = *done;
        continue;
      }
      queue.push_back(&x);
    }
    const mlp::Index inputs = data.data.train.features();
    std::stable_sort(queue.begin(), queue.end(), [&](const auto* a, const auto* b) {
      return estimated_cost(a->config, inputs) > estimated_cost(b->config, inputs);
    });

    cli::install_interrupt_handler();
    std::mutex output_mutex, results_mutex;
    std::atomic<std::size_t> next{0};
    std::vector<Outcome> outcomes;
    const int workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(jobs), queue.size()));
    const bool live = workers == 1 && isatty(STDOUT_FILENO) != 0;
    auto worker = [&] {
      cli::LineLockedStream log(std::cout, output_mutex);
      for (;;) {
        const std::size_t k = next.fetch_add(1);
        if (k >= queue.size() || cli::interrupt_flag().load()) return;
        const study::Experiment& x = *queue[k];
        log << "[" << x.id << "] started: " << x.change << "\n";
        Outcome o;
        o.id = x.id;
        try {
          mlp::app::RunOptions ro;
          ro.progress = &log;
          ro.live_progress = live;
          ro.progress_prefix = "[" + x.id + "] ";
          ro.interrupt = &cli::interrupt_flag();
          o.result = mlp::app::run_training(x.config, data, out / x.id, ro);
          if (!o.result.interrupted) {
            log << "[" << x.id << "] done: test accuracy " << study::pct(o.result.test_best.accuracy)
                << " (best checkpoint, epoch " << o.result.best_epoch << "), " << study::secs(o.result.train_seconds)
                << (o.result.resumed ? ", resumed from a checkpoint" : "") << "\n";
          }
        } catch (const std::exception& e) {
          o.error = cli::one_line(e.what());
          log << "[" << x.id << "] failed: " << o.error << "\n";
        }
        std::lock_guard<std::mutex> lock(results_mutex);
        outcomes.push_back(std::move(o));
      }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; ++i) threads.emplace_back(worker);
    for (auto& t : threads) t.join();

    bool failed = false;
    for (auto& o : outcomes) {
      if (!o.error.empty()) {
        failed = true;
      } else if (!o.result.interrupted) {
        results[o.id] = std::move(o.result);
      }
    }
    if (cli::interrupt_flag().load()) {
      std::printf("\ninterrupted: finished runs are kept and interrupted ones saved a checkpoint; run the "
                  "same command again to continue\n");
      return 130;
    }

    const auto figures = study::write_figures(out, results, data.data.train.class_names);
    study::StudyTiming timing;
    timing.data_seconds = data_seconds;
    timing.jobs = std::max(workers, 1);
    timing.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - program_start).count();
    study::write_report(out, experiments, results, facts.str(), figures, timing);
    std::printf("\n%zu runs in %s: ", results.size(), study::secs(timing.wall_seconds).c_str());
    for (const auto& x : experiments) {
      if (results.count(x.id)) std::printf("%s %s  ", x.id.c_str(), study::pct(results.at(x.id).test_best.accuracy).c_str());
    }
    std::printf("\nreport: %s\n", (out / "report.md").string().c_str());
    if (failed) {
      std::fprintf(stderr, "fashion_mnist_experiments: error: some runs failed (see above)\n");
      return cli::kExitFailure;
    }
    return 0;
  });
}
