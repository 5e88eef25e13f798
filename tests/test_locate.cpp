#include "data_files.hpp"
#include "helpers.hpp"

#include <mlp/data/locate.hpp>

#include <cstdlib>

#include <sys/stat.h>

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

TEST_CASE("a data file that is a folder, a FIFO or a symbolic link loop is named as such, not as missing") {
  mlp_test::TempDir dir("locate_kinds");
  mlp_test::write_idx_dataset(dir.path().string(), 10, 10);
  std::filesystem::remove(dir.path() / "train-labels-idx1-ubyte.gz");
  std::filesystem::create_directories(dir.path() / "train-labels-idx1-ubyte.gz");
  std::filesystem::remove(dir.path() / "t10k-images-idx3-ubyte.gz");
  std::filesystem::create_symlink("t10k-images-idx3-ubyte", dir.path() / "t10k-images-idx3-ubyte.gz");
  std::filesystem::create_symlink("t10k-images-idx3-ubyte.gz", dir.path() / "t10k-images-idx3-ubyte");
  std::filesystem::remove(dir.path() / "t10k-labels-idx1-ubyte.gz");
  CHECK(mlp::missing_dataset_files(mlp::DatasetKind::FashionMnist, dir.path()) ==
        "missing t10k-labels-idx1-ubyte.gz, train-labels-idx1-ubyte.gz is a directory, "
        "t10k-images-idx3-ubyte.gz is a symbolic link loop");
  CHECK_THROWS_WITH_AS(mlp::locate_dataset(mlp::DatasetKind::FashionMnist, dir.path().string()),
                       mlp_test::contains("looked in --data " + dir.path().string() +
                                          " (missing t10k-labels-idx1-ubyte.gz, train-labels-idx1-ubyte.gz "
                                          "is a directory, t10k-images-idx3-ubyte.gz is a symbolic link loop)"),
                       mlp::IoError);

  mlp_test::TempDir cifar("locate_kinds_cifar");
  mlp_test::write_cifar_dataset(cifar.path().string(), 2, 2);
  std::filesystem::remove(cifar.path() / "data_batch_2.bin");
  REQUIRE(::mkfifo((cifar.path() / "data_batch_2.bin").c_str(), 0600) == 0);
  CHECK(mlp::missing_dataset_files(mlp::DatasetKind::Cifar10, cifar.path()) ==
        "data_batch_2.bin is a FIFO (named pipe)");
  // Loading names it too (the reader never opens it, so nothing blocks).
  CHECK_THROWS_WITH_AS(mlp::load_dataset(mlp::DatasetKind::Cifar10, cifar.path()),
                       mlp_test::contains("cannot open '" + (cifar.path() / "data_batch_2.bin").string() +
                                          "': it is a FIFO (named pipe)"),
                       mlp::IoError);
}

TEST_CASE("an IDX data file that is a FIFO is named as such when loading") {
  mlp_test::TempDir dir("idx_fifo");
  mlp_test::write_idx_dataset(dir.path().string(), 10, 10);
  std::filesystem::remove(dir.path() / "train-images-idx3-ubyte.gz");
  REQUIRE(::mkfifo((dir.path() / "train-images-idx3-ubyte.gz").c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(mlp::load_dataset(mlp::DatasetKind::FashionMnist, dir.path()),
                       mlp_test::contains("cannot open '" + (dir.path() / "train-images-idx3-ubyte.gz").string() +
                                          "': it is a FIFO (named pipe)"),
                       mlp::IoError);
}

TEST_CASE("a --data path that is a file is named as not a folder") {
  mlp_test::TempDir dir("locate_file_flag");
  const std::string file = dir.file("fashion.gz");
  mlp_test::write_gz(file, mlp_test::idx_images(1, 2, 2));
  CHECK_THROWS_WITH_AS(mlp::locate_dataset(mlp::DatasetKind::FashionMnist, file),
                       doctest::Contains(("looked in --data " + file + " (not a folder)").c_str()), mlp::IoError);
}
