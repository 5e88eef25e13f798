// The doctest runner; the tests live in test_*.cpp. Tests run on one thread unless they set their
// own count (test_threads.cpp): ctest runs two test processes at once on CI's 2 cores.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <Eigen/Core>

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  return doctest::Context(argc, argv).run();
}
