// bench_training --csv (benchmarks/bench_csv.hpp): the header a new file gets, rows appended under
// it that say the conditions of their measurement, and files of another layout refused unchanged.
#include "helpers.hpp"

#include "../benchmarks/bench_csv.hpp"

#include <string>

namespace {

bench::CsvRow protocol_row() {
  bench::CsvRow r;
  r.model = "M";
  r.threads = 2;
  r.seconds_per_epoch = 0.25;
  r.gflops = 210.5;
  r.peak_gflops = 380;
  r.precision = "fp32";
  r.images_per_epoch = 50000;
  r.optimizer = "adam";
  r.threads_at_end = 2;
  return r;
}

void append(const std::string& path, const bench::CsvRow& row) {
  std::ofstream csv = bench::open_csv(path);
  csv << bench::csv_line(row) << '\n';
  REQUIRE(csv.good());
}

}  // namespace

TEST_CASE("bench_training --csv: a header line, then one line per row with its conditions") {
  CHECK(bench::csv_line(protocol_row()) == "mlp,M,2,0.25,210.5,380,fp32,50000,wall,adam,on,0,2,on,on");
  bench::CsvRow other = protocol_row();
  other.images_per_epoch = 3000;
  other.cpu_time = true;
  other.optimizer = "sgd";
  other.thread_governor = true;
  other.governor_switches = 1;
  other.threads_at_end = 1;
  other.relu_fusion = false;
  other.flush_denormals = false;
  CHECK(bench::csv_line(other) == "mlp,M,2,0.25,210.5,380,fp32,3000,cpu,sgd,on,1,1,off,off");

  const mlp_test::TempDir dir("bench_csv");
  const std::string header = std::string(bench::kCsvHeader) + "\n";
  SUBCASE("a new file, then the same file again: one header") {
    append(dir.file("new.csv"), protocol_row());
    append(dir.file("new.csv"), other);
    CHECK(mlp_test::read_bytes(dir.file("new.csv")) == header + bench::csv_line(protocol_row()) + "\n" +
                                                 bench::csv_line(other) + "\n");
  }
  SUBCASE("an empty file (as a crash or a shell's > leaves it) gets the header") {
    mlp_test::write_bytes(dir.file("empty.csv"), "");
    append(dir.file("empty.csv"), other);
    CHECK(mlp_test::read_bytes(dir.file("empty.csv")) == header + bench::csv_line(other) + "\n");
  }
}

TEST_CASE("bench_training --csv refuses a file of another layout and leaves it as it was") {
  const mlp_test::TempDir dir("bench_csv_foreign");
  const std::string path = dir.file("results.csv");
  SUBCASE("another program's CSV") {
    mlp_test::write_bytes(path, "epoch,train_loss\n1,0.5\n");
    CHECK_THROWS_WITH_AS(bench::open_csv(path),
                         ("--csv: '" + path + "' does not start with bench_training's header line (epoch,train_loss); "
                          "give a new file or one that bench_training wrote").c_str(),
                         mlp::IoError);
    CHECK(mlp_test::read_bytes(path) == "epoch,train_loss\n1,0.5\n");
  }
  SUBCASE("rows of a bench_training from before the header (a long first line is cut)") {
    const std::string old = "mlp,L,1,5.813,142.1,182.6,fp32\nmlp,L,1,3.83,215.5,182.6,bf16\n";
    mlp_test::write_bytes(path, old);
    CHECK_THROWS_WITH_AS(bench::open_csv(path),
                         ("--csv: '" + path + "' does not start with bench_training's header line "
                          "(mlp,L,1,5.813,142.1,182.6,fp32); give a new file or one that bench_training wrote").c_str(),
                         mlp::IoError);
    CHECK(mlp_test::read_bytes(path) == old);
    mlp_test::write_bytes(path, std::string(bench::kCsvHeader).substr(0, 60) + "\n");
    CHECK_THROWS_WITH_AS(bench::open_csv(path),
                         ("--csv: '" + path + "' does not start with bench_training's header line (" +
                          std::string(bench::kCsvHeader).substr(0, 40) + "...); give a new file or one that "
                          "bench_training wrote").c_str(),
                         mlp::IoError);
  }
  SUBCASE("a folder") {
    CHECK_THROWS_AS(bench::open_csv(dir.path().string()), mlp::IoError);
  }
}
