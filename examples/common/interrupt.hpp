// Ctrl-C (SIGINT) and SIGTERM ask training to stop after the current step, with checkpoints. A
// second signal (timeout -s INT, or an impatient Ctrl-C) does not cut that short: the runs in
// progress still save; only a third one ends the program at once (the default action).
#pragma once

#include <atomic>
#include <csignal>

namespace cli {

inline std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline std::atomic<int>& interrupt_count() {
  static std::atomic<int> count{0};
  return count;
}

extern "C" inline void on_interrupt_signal(int signal) {
  interrupt_flag().store(true);
  if (interrupt_count().fetch_add(1) + 1 >= 3) std::signal(signal, SIG_DFL);
}

inline void install_interrupt_handler() {
  static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
                "the flag is set from a signal handler");
  std::signal(SIGINT, on_interrupt_signal);
  std::signal(SIGTERM, on_interrupt_signal);
}

}  // namespace cli
