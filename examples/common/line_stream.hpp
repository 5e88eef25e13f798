// An output stream that several threads can share: each writes whole lines, under one lock, so
// the lines of parallel runs never interleave mid-line.
#pragma once

#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>

namespace cli {

class LineLockedBuffer final : public std::streambuf {
 public:
  LineLockedBuffer(std::ostream& target, std::mutex& mutex) : target_(target), mutex_(mutex) {}

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return 0;
    line_ += static_cast<char>(c);
    if (c == '\n') flush_line();
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) overflow(static_cast<unsigned char>(s[i]));
    return n;
  }
  int sync() override {
    flush_line();
    return 0;
  }

 private:
  void flush_line() {
    if (line_.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    target_ << line_ << std::flush;
    line_.clear();
  }

  std::ostream& target_;
  std::mutex& mutex_;
  std::string line_;
};

// One per thread: `LineLockedStream out(std::cout, mutex); out << ... << "\n";`
class LineLockedStream final : public std::ostream {
 public:
  LineLockedStream(std::ostream& target, std::mutex& mutex) : std::ostream(nullptr), buffer_(target, mutex) {
    rdbuf(&buffer_);
  }

 private:
  LineLockedBuffer buffer_;
};

}  // namespace cli
