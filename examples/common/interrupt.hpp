// Ctrl-C (SIGINT) and SIGTERM ask training to stop after the current step; a second signal ends the
// program at once (the default action).
#pragma once

#include <atomic>
#include <csignal>

namespace cli {

inline std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

extern "C" inline void on_interrupt_signal(int signal) {
  interrupt_flag().store(true);
  std::signal(signal, SIG_DFL);
}

inline void install_interrupt_handler() {
  static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");
  std::signal(SIGINT, on_interrupt_signal);
  std::signal(SIGTERM, on_interrupt_signal);
}

}  // namespace cli
