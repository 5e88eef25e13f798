// Trains the queued cells, several at a time (one thread each: fastest on a few cores, and
// bit-reproducible), printing a line per finished cell with how many are done and an estimate of
// the time left for the whole study. Ctrl-C (or SIGTERM, which Slurm sends at a time limit) stops
// every running cell after its current step with a checkpoint; the same command continues them.
#pragma once

#include "cells.hpp"
#include "cost.hpp"
#include "wording.hpp"

#include "common/interrupt.hpp"
#include "common/line_stream.hpp"
#include "common/threads.hpp"

#include <mlp_app/run.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace study {

using Clock = std::chrono::steady_clock;

// The time-left estimate. A cell's duration is estimated from the cells of the same experiment
// already measured in this invocation (they cost the same), otherwise from its cost at the seconds
// per cost unit measured so far; cells still running count with what is left of their estimate.
class TimeLeft {
 public:
  TimeLeft(std::vector<double> costs, std::vector<std::string> experiments, int workers)
      : costs_(std::move(costs)), experiments_(std::move(experiments)), started_(costs_.size()),
        state_(costs_.size(), State::Queued), workers_(std::max(workers, 1)) {}

  void start(std::size_t k) { started_[k] = Clock::now(), state_[k] = State::Running; }

  // Records cell k as finished (a failed cell says nothing about durations); returns the estimate
  // of the seconds left (negative: not known yet).
  double finish(std::size_t k, bool measured = true) {
    const double took = std::chrono::duration<double>(Clock::now() - started_[k]).count();
    state_[k] = State::Done;
    if (measured) {
      measured_[experiments_[k]].push_back(took);
      measured_seconds_ += took, measured_cost_ += costs_[k];
    }
    double left = 0.0, longest = 0.0;
    for (std::size_t i = 0; i < costs_.size(); ++i) {
      if (state_[i] == State::Done) continue;
      double e = estimate(i);
      if (state_[i] == State::Running) e = std::max(0.0, e - std::chrono::duration<double>(Clock::now() - started_[i]).count());
      left += e, longest = std::max(longest, e);
    }
    return measured_cost_ > 0.0 ? std::max(left / workers_, longest) : -1.0;
  }

 private:
  enum class State { Queued, Running, Done };
  double estimate(std::size_t k) const {
    const auto it = measured_.find(experiments_[k]);
    if (it != measured_.end()) {
      double sum = 0.0;
      for (const double t : it->second) sum += t;
      return sum / static_cast<double>(it->second.size());
    }
    return costs_[k] * measured_seconds_ / std::max(measured_cost_, 1e-30);
  }

  std::vector<double> costs_;
  std::vector<std::string> experiments_;
  std::vector<Clock::time_point> started_;
  std::vector<State> state_;
  std::map<std::string, std::vector<double>> measured_;
  double measured_seconds_ = 0.0, measured_cost_ = 0.0;
  int workers_;
};

struct CellOutcome {
  const Cell* cell = nullptr;
  mlp::app::RunResult result;
  std::string error;  // non-empty when the cell failed
};

struct RunnerOptions {
  std::filesystem::path out;
  int jobs = 1;
  bool force = false;       // empty each cell's folder first (recompute), and adopt unmarked folders
  std::size_t done_before = 0, total = 0;  // cells finished earlier, cells in the study
};

inline std::string finished_line(const CellOutcome& o) {
  if (!o.error.empty()) return "failed: " + o.error;
  const auto& r = o.result;
  return "done: test accuracy " + pct(r.test_best.accuracy) + " (best checkpoint, epoch " + std::to_string(r.best_epoch) +
         "), " + secs(r.train_seconds) + (r.resumed ? ", resumed from a checkpoint" : "");
}

// Trains one cell; a failure is recorded next to its folder (cells.hpp) and returned, not thrown.
inline CellOutcome train_cell(const Cell& c, const mlp::PreparedData& data, const RunnerOptions& opt, std::ostream& log) {
  CellOutcome o;
  o.cell = &c;
  try {
    if (opt.force) clear_cell_folder(c.folder(opt.out));
    mlp::app::RunOptions ro;
    ro.progress = &log;
    ro.progress_prefix = "[" + c.name() + "] ";
    ro.adopt_folder = opt.force;
    ro.interrupt = &cli::interrupt_flag();
    o.result = mlp::app::run_training(c.config, data, c.folder(opt.out), ro);
    if (!o.result.interrupted) clear_failure(opt.out, c);
  } catch (const std::exception& e) {
    o.error = cli::one_line(e.what());
    try {
      record_failure(opt.out, c, o.error);
    } catch (const std::exception& e2) {
      o.error += " (and its error file could not be written: " + cli::one_line(e2.what()) + ")";
    }
  }
  return o;
}

// What the workers share: the time-left estimate and the counts of the progress lines.
class StudyProgress {
 public:
  StudyProgress(const std::vector<const Cell*>& queue, const std::vector<double>& costs, const RunnerOptions& opt)
      : time_left_(costs, experiment_ids(queue), opt.jobs), queued_(queue.size()), done_(opt.done_before),
        total_(opt.total) {}

  void start(std::size_t k) {
    std::lock_guard<std::mutex> lock(mutex_);
    time_left_.start(k);
  }
  // "done: test accuracy ...; 12/70 cells done, about 14 min left", or "interrupted: ...".
  std::string finish(std::size_t k, const CellOutcome& o) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (o.error.empty() && o.result.interrupted) return "interrupted: its checkpoint is saved";
    ++done_, ++finished_here_;
    failed_ += o.error.empty() ? 0 : 1;
    const double left = time_left_.finish(k, o.error.empty());
    return finished_line(o) + "; " + std::to_string(done_) + "/" + std::to_string(total_) + " cells done" +
           (failed_ > 0 ? " (" + std::to_string(failed_) + " failed)" : "") +
           (finished_here_ < queued_ && left >= 0.0 ? ", about " + duration_text(left) + " left" : "");
  }

 private:
  static std::vector<std::string> experiment_ids(const std::vector<const Cell*>& queue) {
    std::vector<std::string> ids;
    for (const Cell* c : queue) ids.push_back(c->experiment->id);
    return ids;
  }
  std::mutex mutex_;
  TimeLeft time_left_;
  std::size_t queued_, done_, total_, failed_ = 0, finished_here_ = 0;
};

// Trains `queue` (longest first) on opt.jobs threads; returns every cell's outcome.
inline std::vector<CellOutcome> run_cells(const std::vector<const Cell*>& queue, const std::vector<double>& costs,
                                          const mlp::PreparedData& data, const RunnerOptions& opt, std::ostream& out) {
  StudyProgress progress(queue, costs, opt);
  std::mutex output_mutex, outcomes_mutex;
  std::atomic<std::size_t> next{0};
  std::vector<CellOutcome> outcomes;
  auto worker = [&] {
    cli::exact_thread_counts_here();  // as set_threads did on the main thread
    cli::LineLockedStream log(out, output_mutex);
    for (std::size_t k = next.fetch_add(1); k < queue.size() && !cli::interrupt_flag().load(); k = next.fetch_add(1)) {
      const Cell& c = *queue[k];
      log << "[" << c.name() << "] started (change from the baseline: " << c.experiment->change << ")\n";
      progress.start(k);
      CellOutcome o = train_cell(c, data, opt, log);
      log << "[" << c.name() << "] " << progress.finish(k, o) << "\n";
      std::lock_guard<std::mutex> lock(outcomes_mutex);
      outcomes.push_back(std::move(o));
    }
  };
  std::vector<std::thread> threads;
  const int workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(opt.jobs), queue.size()));
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return outcomes;
}

}  // namespace study
