// File-level behaviour of the io helpers: atomic writes from several threads, folders created on
// demand, and paths that are not regular files refused with what they are.
#include "data_files.hpp"
#include "helpers.hpp"

#include <mlp/io/atomic_file.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

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
