// File-level behaviour of the io helpers: atomic writes from several threads, folders created on
// demand, and paths that are not regular files refused with what they are.
#include "data_files.hpp"
#include "helpers.hpp"

#include <mlp/io/atomic_file.hpp>

#include <filesystem>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

TEST_CASE("atomic writes from several threads at once get distinct temporary files") {
  mlp_test::TempDir dir("atomic_threads");
  constexpr int kThreads = 4;
  constexpr int kNames = 20000;
  constexpr int kWrites = 50;
  // Temporary names drawn in parallel: a racy counter hands out the same name twice (and
  // ThreadSanitizer reports the race itself).
  std::vector<std::vector<std::string>> names(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kNames; ++i) {
        names[static_cast<std::size_t>(t)].push_back(mlp::detail::temporary_sibling(dir.file("f")).string());
      }
      // Writes to one destination: two writers sharing a temporary would clobber each other's
      // file and one rename would fail.
      try {
        for (int i = 0; i < kWrites; ++i) {
          mlp::write_file_atomically(dir.file("shared.txt"), std::string(1000, static_cast<char>('a' + t)));
        }
      } catch (const mlp::IoError& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> unique;
  for (const auto& list : names) unique.insert(list.begin(), list.end());
  CHECK(unique.size() == static_cast<std::size_t>(kThreads * kNames));
  for (const auto& error : errors) CHECK(error == "");
  const std::string content = mlp::read_text_file(dir.file("shared.txt"));
  CHECK(content.size() == 1000);
  CHECK(content == std::string(1000, content[0]));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 1);  // no temporary left behind
}

TEST_CASE("atomic writes create missing parent folders and name an unwritable one") {
  mlp_test::TempDir dir("atomic_folders");
  mlp::write_file_atomically(dir.path() / "run" / "logs" / "metrics.csv", "epoch\n");
  CHECK(mlp::read_text_file(dir.path() / "run" / "logs" / "metrics.csv") == "epoch\n");
  mlp::write_file_atomically(dir.path() / "run" / "best.mlp", "model");  // the folder exists now
  CHECK(mlp::read_text_file(dir.path() / "run" / "best.mlp") == "model");

  mlp::write_file_atomically(dir.file("blocker"), "a file where a folder should be");
  const std::string under_file = dir.file("blocker/sub/m.mlp");
  CHECK_THROWS_WITH_AS(mlp::write_file_atomically(under_file, "x"),
                       mlp_test::contains("cannot write '" + under_file + "': cannot create its folder '" +
                                          dir.file("blocker/sub") + "': Not a directory"),
                       mlp::IoError);
  CHECK_FALSE(std::filesystem::exists(dir.file("blocker/sub")));
}

TEST_CASE("atomic writes replace only a regular file, never a FIFO, device or folder standing at the path") {
  // (rename() put a 750-byte model file in place of /dev/full when a program running as root saved there)
  mlp_test::TempDir dir("atomic_kinds");
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(mlp::write_file_atomically(dir.file("fifo"), "model"),
                       ("cannot write '" + dir.file("fifo") + "': it is a FIFO (named pipe) (only a regular file is "
                        "replaced)").c_str(),
                       mlp::IoError);
  CHECK(std::filesystem::is_fifo(dir.file("fifo")));
  std::filesystem::create_directory(dir.file("folder"));
  CHECK_THROWS_WITH_AS(mlp::write_file_atomically(dir.file("folder"), "model"),
                       mlp_test::contains("it is a directory (only a regular file is replaced)"), mlp::IoError);
  CHECK(std::filesystem::is_directory(dir.file("folder")));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}) == 2);
  // a regular file, or a symbolic link to nothing yet, is replaced as before
  mlp::write_file_atomically(dir.file("m.mlp"), "old");
  mlp::write_file_atomically(dir.file("m.mlp"), "new");
  CHECK(mlp::read_text_file(dir.file("m.mlp")) == "new");
  std::filesystem::create_symlink("gone.mlp", dir.path() / "dangling");
  mlp::write_file_atomically(dir.file("dangling"), "x");
  CHECK(mlp::read_text_file(dir.file("dangling")) == "x");
}

TEST_CASE("read_text_file refuses what is not a regular file and says what it is") {
  mlp_test::TempDir dir("read_kinds");
  auto message = [](const std::filesystem::path& p, const std::string& what) {
    return mlp_test::contains("cannot open '" + p.string() + "': " + what);
  };
  // REQUIRE: without the check, the FIFO below would block and /dev/zero would never end.
  REQUIRE_THROWS_WITH_AS(mlp::read_text_file(dir.path()), message(dir.path(), "it is a directory"),
                         mlp::IoError);
  CHECK_THROWS_WITH_AS(mlp::read_text_file(dir.file("missing.txt")),
                       message(dir.file("missing.txt"), "no such file"), mlp::IoError);
  std::filesystem::create_symlink("loop_b", dir.path() / "loop_a");
  std::filesystem::create_symlink("loop_a", dir.path() / "loop_b");
  CHECK_THROWS_WITH_AS(mlp::read_text_file(dir.file("loop_a")),
                       message(dir.file("loop_a"), "it is a symbolic link loop"), mlp::IoError);
  std::filesystem::create_symlink("gone.txt", dir.path() / "dangling");
  CHECK_THROWS_WITH_AS(mlp::read_text_file(dir.file("dangling")),
                       message(dir.file("dangling"), "no such file (a symbolic link to 'gone.txt')"),
                       mlp::IoError);
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(mlp::read_text_file(dir.file("fifo")),
                       message(dir.file("fifo"), "it is a FIFO (named pipe)"), mlp::IoError);
  CHECK_THROWS_WITH_AS(mlp::read_text_file("/dev/zero"), message("/dev/zero", "it is a character device"),
                       mlp::IoError);
  std::filesystem::create_symlink(dir.file("fifo"), dir.path() / "link_to_fifo");
  CHECK_THROWS_WITH_AS(mlp::read_text_file(dir.file("link_to_fifo")),
                       message(dir.file("link_to_fifo"), "it is a FIFO"), mlp::IoError);
}
