#include "data_files.hpp"
#include "helpers.hpp"

#include <mlp/data/locate.hpp>

#include <cstdlib>

namespace {

// Sets an environment variable for the duration of a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("locate_dataset takes the --data folder or its <dataset> subfolder") {
  mlp_test::TempDir dir("locate_flag");
  std::filesystem::create_directories(dir.path() / "mnist");
  mlp_test::write_idx_dataset((dir.path() / "mnist").string(), 10, 10);
  CHECK(mlp::locate_dataset(mlp::DatasetKind::Mnist, dir.path().string()) == dir.path() / "mnist");
  CHECK(mlp::locate_dataset(mlp::DatasetKind::Mnist, (dir.path() / "mnist").string()) ==
        dir.path() / "mnist");
}

TEST_CASE("a --data folder without the files is an error that says what is missing") {
  mlp_test::TempDir dir("locate_bad_flag");
  mlp_test::write_gz(dir.file("train-images-idx3-ubyte.gz"), mlp_test::idx_images(1, 2, 2));
  CHECK_THROWS_WITH_AS(
      mlp::locate_dataset(mlp::DatasetKind::FashionMnist, dir.path().string()),
      ("no fashion-mnist data found: looked in --data " + dir.path().string() +
       " (missing train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz); "
       "install it with `sudo apt-get install dataset-fashion-mnist`, or run `data/download.sh "
       "fashion-mnist` (needs internet access)").c_str(),
      mlp::IoError);
}

TEST_CASE("$MLP_DATA is searched and every place tried is listed") {
  mlp_test::TempDir dir("locate_env");
  {
    ScopedEnv env("MLP_DATA", dir.path().string().c_str());
    CHECK_THROWS_WITH_AS(mlp::locate_dataset(mlp::DatasetKind::Cifar10),
                         mlp_test::contains("no cifar10 data found: looked in $MLP_DATA " +
                                           dir.path().string() + " (missing data_batch_1.bin"),
                         mlp::IoError);
    CHECK_THROWS_WITH_AS(mlp::locate_dataset(mlp::DatasetKind::Cifar10),
                         doctest::Contains("; data/cifar10 (no such folder); "
                                           "/usr/share/datasets/cifar10 (no such folder); run "
                                           "`data/download.sh cifar10`"),
                         mlp::IoError);
    std::filesystem::create_directories(dir.path() / "cifar-10-batches-bin");
    mlp_test::write_cifar_dataset((dir.path() / "cifar-10-batches-bin").string(), 2, 2);
    CHECK(mlp::locate_dataset(mlp::DatasetKind::Cifar10) == dir.path() / "cifar-10-batches-bin");
  }
}
