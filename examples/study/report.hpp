// report.md: every run in one table, each comparison's figure, and observations computed from the
// numbers (the text only chooses words such as "lower" or "higher" from them; it never states an
// outcome that was not measured in this folder).
#pragma once

#include "experiments.hpp"
#include "figures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <limits>
#include <string>
#include <vector>

namespace study {

inline std::string fmt(const char* format, double v) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}
inline std::string pct(double v) { return fmt("%.2f%%", 100.0 * v); }
inline std::string loss4(double v) { return fmt("%.4f", v); }
inline std::string pp(double delta) { return fmt("%+.2f pp", 100.0 * delta); }
inline std::string secs(double v) { return fmt(v < 10 ? "%.1f s" : "%.0f s", v); }
inline std::string lower_higher(double a, double b) { return a < b ? "lower" : a > b ? "higher" : "the same as"; }

// Facts of one run that the observations use.
struct Facts {
  const mlp::app::RunResult* run = nullptr;
  int epochs = 0, best = 0;
  static constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();
  double best_val_loss = kUnknown, best_val_acc = kUnknown, max_val_acc = kUnknown;
  double last_train_loss = kUnknown, last_val_loss = kUnknown, gap = kUnknown;
  double first_train_loss = kUnknown;

  explicit Facts(const mlp::app::RunResult& r) : run(&r) {
    const auto& e = r.history.epochs;
    epochs = static_cast<int>(e.size());
    best = r.best_epoch;
    if (best > 0) {
      best_val_loss = e[static_cast<std::size_t>(best - 1)].val_loss;
      best_val_acc = e[static_cast<std::size_t>(best - 1)].val_acc;
    }
    for (const auto& x : e) max_val_acc = std::isnan(max_val_acc) ? x.val_acc : std::max(max_val_acc, x.val_acc);
    if (!e.empty()) {
      first_train_loss = e.front().train_loss;
      last_train_loss = e.back().train_loss;
      last_val_loss = e.back().val_loss;
      gap = last_val_loss - last_train_loss;
    }
  }
  double test_acc() const { return run->test_best.accuracy; }
  double test_loss() const { return run->test_best.loss; }
  // First epoch whose validation accuracy reaches `level`, or 0.
  int epoch_reaching(double level) const {
    for (const auto& x : run->history.epochs) {
      if (x.val_acc >= level) return x.epoch;
    }
    return 0;
  }
};

inline std::string run_line(const Experiment& x, const mlp::app::RunResult& r) {
  const Facts f(r);
  std::ostringstream s;
  s << "| `" << x.id << "` | " << x.change << " | " << pct(r.test_best.accuracy) << " | "
    << loss4(r.test_best.loss) << " | " << pct(r.test_last.accuracy) << " | " << loss4(r.test_last.loss)
    << " | " << f.best << " | " << f.epochs << (r.history.stopped_early ? " (stopped early)" : "")
    << (r.history.diverged ? " (diverged)" : "") << " | " << secs(r.train_seconds) << " | "
    << r.parameters << " |\n";
  return s.str();
}

inline std::string observe_early_stopping(const Results& R) {
  if (!R.count("baseline") || !R.count("early_stopping")) return "";
  const Facts b(R.at("baseline")), e(R.at("early_stopping"));
  std::ostringstream s;
  const auto& stop = R.at("early_stopping").history;
  if (stop.stopped_early) {
    s << "Early stopping ended training at epoch " << e.epochs << " of " << b.epochs << ", "
      << (b.epochs - e.epochs) << " epochs earlier, after " << R.at("early_stopping").config.patience
      << " epochs without a lower validation loss. ";
  } else {
    s << "Early stopping did not trigger: the validation loss kept improving within its patience for all "
      << e.epochs << " epochs. ";
  }
  s << "The best epoch (lowest validation loss) was " << e.best << " with early stopping and " << b.best
    << " without" << (e.best == b.best ? " (the same seed gives the same epochs up to the stop)" : "")
    << ". Test accuracy of the restored best checkpoint: " << pct(e.test_acc()) << " (loss "
    << loss4(e.test_loss()) << ") vs " << pct(b.test_acc()) << " (loss " << loss4(b.test_loss())
    << ") for the baseline's best checkpoint. ";
  const auto& last = R.at("baseline").test_last;
  s << "The model of the baseline's last epoch, which is what training without a checkpoint would "
       "keep, scores "
    << pct(last.accuracy) << " with a test loss of " << loss4(last.loss) << ", "
    << lower_higher(last.loss, b.test_loss()) << " than the best checkpoint's loss";
  if (last.loss > b.test_loss()) {
    s << ": after epoch " << b.best << " the validation loss rose from " << loss4(b.best_val_loss) << " to "
      << loss4(b.last_val_loss) << " while the training loss kept falling (to " << loss4(b.last_train_loss)
      << "), the signature of overfitting";
  }
  s << ". Training took " << secs(R.at("early_stopping").train_seconds) << " instead of "
    << secs(R.at("baseline").train_seconds) << ".\n";
  return s.str();
}

inline std::string observe_architecture(const Results& R) {
  std::ostringstream s;
  std::vector<std::pair<std::string, std::string>> runs = {
      {"arch_small", "small [32]"}, {"baseline", "medium [256, 128]"}, {"arch_large", "large [1024, 1024, 1024]"}};
  const mlp::app::RunResult* top = nullptr;
  std::string top_name;
  for (const auto& [id, name] : runs) {
    if (!R.count(id)) continue;
    const Facts f(R.at(id));
    s << "- " << name << ": " << R.at(id).parameters << " parameters, lowest validation loss "
      << loss4(f.best_val_loss) << " at epoch " << f.best << ", test accuracy " << pct(f.test_acc())
      << "; at the last epoch validation loss exceeds training loss by " << loss4(f.gap) << " ("
      << secs(R.at(id).train_seconds) << " of training).\n";
    if (top == nullptr || f.test_acc() > top->test_best.accuracy) top = &R.at(id), top_name = name;
  }
  if (top != nullptr) s << "\nThe " << top_name << " network has the highest test accuracy of the three. ";
  if (R.count("arch_large") && R.count("baseline")) {
    const Facts m(R.at("baseline")), l(R.at("arch_large"));
    s << "The large network reaches its lowest validation loss at epoch " << l.best << " (medium: " << m.best
      << ") and ends with a train/validation gap of " << loss4(l.gap) << " (medium: " << loss4(m.gap)
      << "); it costs " << fmt("%.1fx", R.at("arch_large").train_seconds / std::max(R.at("baseline").train_seconds, 1e-9))
      << " the medium network's training time.";
  }
  if (R.count("arch_small")) {
    const Facts sm(R.at("arch_small"));
    s << " The small network's final training loss is " << loss4(sm.last_train_loss)
      << ": with 32 hidden units it " << (sm.gap < 0.05 ? "barely overfits" : "still overfits")
      << " (gap " << loss4(sm.gap) << ").";
  }
  s << "\n";
  return s.str();
}

inline std::string observe_regularization(const Results& R) {
  if (!R.count("baseline")) return "";
  const Facts b(R.at("baseline"));
  std::ostringstream s;
  std::string narrowest;
  double narrowest_gap = b.gap;
  for (const auto& [id, name] : std::vector<std::pair<std::string, std::string>>{
           {"l1", "L1 (1e-5)"}, {"l2", "L2 (1e-4)"}, {"dropout", "Dropout (0.2)"}}) {
    if (!R.count(id)) continue;
    const Facts f(R.at(id));
    s << "- " << name << ": test accuracy " << pct(f.test_acc()) << " (" << pp(f.test_acc() - b.test_acc())
      << " vs the baseline), lowest validation loss " << loss4(f.best_val_loss) << " at epoch " << f.best
      << " (" << lower_higher(f.best_val_loss, b.best_val_loss) << " than the baseline's "
      << loss4(b.best_val_loss) << "); last-epoch gap between validation and training loss "
      << loss4(f.gap) << " (baseline " << loss4(b.gap) << ").\n";
    if (f.gap < narrowest_gap) narrowest_gap = f.gap, narrowest = name;
  }
  if (!narrowest.empty()) {
    s << "\n" << narrowest << " narrows the generalization gap the most (" << loss4(b.gap) << " to "
      << loss4(narrowest_gap) << ").";
  } else {
    s << "\nNone of the three narrows the last-epoch generalization gap below the baseline's.";
  }
  for (const auto& [id, name] : std::vector<std::pair<std::string, std::string>>{{"l1", "L1"}, {"l2", "L2"}}) {
    if (!R.count(id) || R.at(id).history.epochs.empty()) continue;
    const auto& last = R.at(id).history.epochs.back();
    s << " The " << name << " penalty averaged " << fmt("%.4f", last.penalty) << " over the last epoch's steps, next to a "
      << "data loss of " << loss4(last.train_loss) << " (logged apart, in `metrics.csv`).";
  }
  s << "\n";
  return s.str();
}

inline std::string observe_schedule(const Results& R) {
  if (!R.count("baseline") || !R.count("cosine_lr")) return "";
  const Facts b(R.at("baseline")), c(R.at("cosine_lr"));
  const auto& e = R.at("cosine_lr").history.epochs;
  std::ostringstream s;
  s << "The cosine schedule lowers the learning rate at every step: it was " << fmt("%.3g", e.front().lr)
    << " at the end of epoch 1, " << fmt("%.3g", e[e.size() / 2].lr) << " at the end of epoch "
    << e[e.size() / 2].epoch << " and " << fmt("%.3g", e.back().lr) << " at the end of epoch "
    << e.back().epoch << ". Its lowest validation loss is " << loss4(c.best_val_loss) << " at epoch " << c.best
    << " (constant rate: " << loss4(b.best_val_loss) << " at epoch " << b.best << "); test accuracy of the best "
    << "checkpoint " << pct(c.test_acc()) << " vs " << pct(b.test_acc()) << " (" << pp(c.test_acc() - b.test_acc())
    << "). At the last epoch the training loss is " << loss4(c.last_train_loss) << " (constant: "
    << loss4(b.last_train_loss) << ") and the validation loss " << loss4(c.last_val_loss) << " (constant: "
    << loss4(b.last_val_loss) << "); the last epoch's model scores " << pct(R.at("cosine_lr").test_last.accuracy)
    << " on the test set (constant: " << pct(R.at("baseline").test_last.accuracy) << ").\n";
  return s.str();
}

inline std::string observe_batchnorm(const Results& R) {
  if (!R.count("baseline") || !R.count("batchnorm")) return "";
  const Facts b(R.at("baseline")), n(R.at("batchnorm"));
  const double level = std::floor((b.max_val_acc - 0.01) * 1000.0) / 1000.0;
  std::ostringstream s;
  const int eb = b.epoch_reaching(level), en = n.epoch_reaching(level);
  s << "Validation accuracy first reached " << pct(level) << " (one point below the baseline's best) at epoch "
    << (en > 0 ? std::to_string(en) : std::string("- (never)")) << " with BatchNorm and at epoch " << eb
    << " without. Lowest validation loss: " << loss4(n.best_val_loss) << " at epoch " << n.best << " vs "
    << loss4(b.best_val_loss) << " at epoch " << b.best << "; test accuracy " << pct(n.test_acc()) << " vs "
    << pct(b.test_acc()) << " (" << pp(n.test_acc() - b.test_acc()) << "). An epoch took "
    << secs(R.at("batchnorm").train_seconds / std::max(n.epochs, 1)) << " with BatchNorm and "
    << secs(R.at("baseline").train_seconds / std::max(b.epochs, 1)) << " without.\n";
  return s.str();
}

inline std::string observe_optimizer(const Results& R) {
  std::ostringstream s;
  std::vector<std::pair<std::string, std::string>> runs = {
      {"baseline", "Adam (lr 1e-3)"}, {"sgd", "SGD (lr 0.01)"}, {"sgd_momentum", "SGD with momentum 0.9 (lr 0.01)"}};
  for (const auto& [id, name] : runs) {
    if (!R.count(id)) continue;
    const Facts f(R.at(id));
    s << "- " << name << ": training loss " << loss4(f.first_train_loss) << " after epoch 1 and "
      << loss4(f.last_train_loss) << " after epoch " << f.epochs << "; lowest validation loss "
      << loss4(f.best_val_loss) << " at epoch " << f.best << "; test accuracy " << pct(f.test_acc()) << ".\n";
  }
  if (R.count("sgd")) {
    const auto& e = R.at("sgd").history.epochs;
    if (e.size() > 5) {
      const double drop = e[e.size() - 6].val_loss - e.back().val_loss;
      s << "\nPlain SGD's validation loss " << (drop > 0 ? "still fell" : "no longer fell") << " over its last five "
        << "epochs (by " << loss4(std::abs(drop)) << ")" << (R.at("sgd").best_epoch == static_cast<int>(e.size()) ? ", and its best epoch is the last one" : "")
        << ".";
    }
  }
  s << "\n";
  return s.str();
}

inline std::string describe_config(const mlp::app::RunConfig& c) {
  std::ostringstream s;
  s << "hidden layers [";
  for (std::size_t i = 0; i < c.hidden.size(); ++i) s << (i ? ", " : "") << c.hidden[i];
  s << "], " << mlp::to_string(c.activation) << (c.batch_norm ? ", BatchNorm" : "");
  if (c.dropout > 0) s << ", dropout " << c.dropout;
  s << "; " << c.optimizer << " lr " << c.lr;
  if (c.momentum > 0) s << " momentum " << c.momentum;
  if (c.weight_decay > 0) s << " weight decay " << c.weight_decay;
  if (c.l1 > 0) s << ", L1 " << c.l1;
  if (c.l2 > 0) s << ", L2 " << c.l2;
  if (c.label_smoothing > 0) s << ", label smoothing " << c.label_smoothing;
  s << "; " << c.schedule << " schedule; " << c.epochs << " epochs";
  if (c.patience > 0) s << ", early stopping with patience " << c.patience;
  s << "; batch " << c.batch_size << ", seed " << c.seed;
  return s.str();
}

inline std::string observe_best(const Results& R, const std::vector<Experiment>& experiments) {
  if (!R.count("best")) return "";
  const mlp::app::RunResult& r = R.at("best");
  const Facts f(r);
  std::ostringstream s;
  s << "Configuration: " << describe_config(r.config) << ".\n\n";
  if (R.count("baseline")) {
    const Facts b(R.at("baseline"));
    s << "Single changes that lowered the baseline's lowest validation loss (" << loss4(b.best_val_loss) << "): ";
    std::vector<std::string> helped;
    for (const auto& x : experiments) {
      if (x.id == "baseline" || x.id == "best" || !R.count(x.id)) continue;
      const Facts g(R.at(x.id));
      if (g.best_val_loss < b.best_val_loss) {
        helped.push_back(x.label + " (" + loss4(g.best_val_loss) + ", validation accuracy " + pct(g.best_val_acc) + ")");
      }
    }
    for (std::size_t i = 0; i < helped.size(); ++i) s << (i ? "; " : "") << helped[i];
    if (helped.empty()) s << "none";
    s << ".\n\n";
    s << "The best run's lowest validation loss is " << loss4(f.best_val_loss) << " at epoch " << f.best
      << " (validation accuracy " << pct(f.best_val_acc) << "; baseline " << pct(b.best_val_acc) << ")";
    if (r.config.label_smoothing > 0 && f.best_val_loss > b.best_val_loss && f.best_val_acc > b.best_val_acc) {
      s << "; its validation loss is higher than the baseline's although its accuracy is higher, because label "
           "smoothing trains less confident predictions and the reported loss is the plain cross-entropy";
    }
    s << ". On the test set its best checkpoint scores " << pct(f.test_acc()) << " (loss "
      << loss4(f.test_loss()) << "), " << pp(f.test_acc() - b.test_acc()) << " over the baseline";
  }
  s << "; " << f.epochs << " epochs" << (r.history.stopped_early ? " (stopped early)" : "") << " in "
    << secs(r.train_seconds) << ".\n";
  return s.str();
}

struct StudyTiming {
  double wall_seconds = 0.0;   // the whole program, data loading included
  double data_seconds = 0.0;
  int jobs = 1;
};

inline std::string write_report(const std::filesystem::path& out, const std::vector<Experiment>& experiments,
                                const Results& R, const std::string& data_facts,
                                const std::vector<std::string>& figures, const StudyTiming& timing) {
  std::ostringstream s;
  auto has = [&](const std::string& f) { return std::find(figures.begin(), figures.end(), f) != figures.end(); };
  s << "# Experiment report\n\n"
    << "Written by `fashion_mnist_experiments` from the runs in this folder. Every run uses the same seed (42), "
       "the same stratified split and the same preprocessing, and changes one thing from the baseline "
       "(`best` combines several). Test results are those of the checkpoint with the lowest validation loss "
       "(\"best ckpt\") and, for comparison, of the last epoch.\n\n"
    << "## Data\n\n```\n" << data_facts << "```\n\n![samples](samples.png)\n\n"
    << "## All runs\n\n"
    << "| run | the one change | test acc (best ckpt) | test loss (best ckpt) | test acc (last epoch) | "
       "test loss (last epoch) | best epoch | epochs run | training time | parameters |\n"
    << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& x : experiments) {
    if (R.count(x.id)) s << run_line(x, R.at(x.id));
  }
  struct Section {
    std::string title, figure;
    std::string text;
  };
  const std::vector<Section> sections = {
      {"Early stopping", "figures/early_stopping.svg", observe_early_stopping(R)},
      {"Architecture", "figures/architecture.svg", observe_architecture(R)},
      {"Regularization", "figures/regularization.svg", observe_regularization(R)},
      {"Learning-rate schedule", "figures/schedule.svg", observe_schedule(R)},
      {"BatchNorm", "figures/batchnorm.svg", observe_batchnorm(R)},
      {"Optimizer", "figures/optimizer.svg", observe_optimizer(R)},
  };
  for (const auto& sec : sections) {
    if (!has(sec.figure) && sec.text.empty()) continue;
    s << "\n## " << sec.title << "\n\n";
    if (has(sec.figure)) s << "![" << sec.title << "](" << sec.figure << ")\n\n";
    s << sec.text;
  }
  if (R.count("best")) {
    s << "\n## The best configuration\n\n" << observe_best(R, experiments) << "\n";
    if (has("figures/best_confusion.svg")) {
      s << "![confusion matrix](figures/best_confusion.svg)\n\n![per-class accuracy](figures/best_per_class.svg)\n";
    }
  }
  int recomputed = 0;
  for (const auto& entry : R) recomputed += entry.second.cached ? 0 : 1;
  s << "\n## Time\n\nThis invocation ran for " << secs(timing.wall_seconds) << " of wall time ("
    << secs(timing.data_seconds) << " of it loading and preparing the data) and trained " << recomputed << " of the "
    << R.size() << " runs, " << timing.jobs << " at a time with one thread each";
  if (recomputed < static_cast<int>(R.size())) {
    s << "; the others had finished earlier with the same configuration and were not recomputed (marked "
         "\"earlier\" below, with their original times)";
  }
  s << ". Training time per run (training and validation passes):\n\n| run | time | share |\n| --- | --- | --- |\n";
  double total = 0.0;
  std::vector<std::pair<double, std::string>> times;
  for (const auto& [id, r] : R) total += r.train_seconds, times.push_back({r.train_seconds, id});
  std::sort(times.rbegin(), times.rend());
  for (const auto& [t, id] : times) {
    s << "| `" << id << "`" << (R.at(id).cached ? " (earlier)" : "") << " | " << secs(t) << " | "
      << fmt("%.0f%%", 100.0 * t / std::max(total, 1e-9)) << " |\n";
  }
  s << "| total | " << secs(total) << " | |\n";
  mlp::write_file_atomically(out / "report.md", s.str());
  return s.str();
}

}  // namespace study
