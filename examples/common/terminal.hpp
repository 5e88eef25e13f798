// The width of the terminal the programs print to, so progress lines fit it (0: not a terminal,
// no limit).
#pragma once

#include <cstdlib>
#include <string>

#include <sys/ioctl.h>
#include <unistd.h>

namespace cli {

inline bool stdout_is_terminal() { return isatty(STDOUT_FILENO) != 0; }

inline int terminal_columns() {
  if (!stdout_is_terminal()) return 0;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const int n = std::atoi(columns);
    if (n > 0) return n;
  }
  return 80;
}

}  // namespace cli
