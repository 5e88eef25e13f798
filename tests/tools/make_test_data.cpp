// Writes a small, valid data set in the original file formats, for program smoke tests that must
// not depend on downloaded data:  make_test_data <dir> fashion-mnist|mnist|cifar10 [train] [test]
#include "../data_files.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_test_data <dir> fashion-mnist|mnist|cifar10 [train] [test]\n");
    return 2;
  }
  const std::string dir = argv[1], kind = argv[2];
  const int train = argc > 3 ? std::atoi(argv[3]) : 600;
  const int test = argc > 4 ? std::atoi(argv[4]) : 200;
  std::filesystem::create_directories(dir);
  if (kind == "cifar10") {
    mlp_test::write_cifar_dataset(dir, train / 5, test);
  } else {
    mlp_test::write_idx_dataset(dir, train, test);
  }
  std::printf("wrote a %s data set with %d training and %d test images to %s\n", kind.c_str(),
              train, test, dir.c_str());
  return 0;
}
