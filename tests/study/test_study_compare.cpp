// --precision and --compare-to: the flags, the cells' configurations, the other study's folder, and
// the report's comparison section, which (like the rest of the report) claims a difference only
// when its interval excludes 0.
#include "synthetic_study.hpp"

#include "study/compare.hpp"
#include "study/options.hpp"

#include <mlp/io/atomic_file.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

using study_test::claim_phrases;
using study_test::kBase;
using study_test::kNoise;
using study_test::kSeeds;
using study_test::synthetic_study;

const std::vector<double> kSmall = {0.1, -0.1, 0.05, -0.05, 0.0};
const std::vector<double> kNone = {0.0, 0.0, 0.0, 0.0, 0.0};

std::vector<study::Experiment> with_precision(mlp::MatmulPrecision p) {
  auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  for (auto& x : experiments) x.config.precision = p;
  return experiments;
}

// The other study as read_other_study would give it: `there`'s finished cells, with what differs
// from the cells of `here`.
study::OtherStudy other_study(const study::ReportInput& here, const study::ReportInput& there) {
  study::OtherStudy other{"runs-fp32", there.results, {}};
  for (const auto& [id, runs] : there.results) {
    for (const auto& [seed, run] : runs) {
      auto config = run.config;  // as the cell here would run it
      config.precision = here.experiments.front().config.precision;
      other.differences[id][seed] = config.difference(run.config);
    }
  }
  return other;
}

std::string section_of(const std::string& report, const std::string& title) {
  const auto at = report.find("## " + title);
  if (at == std::string::npos) return "";
  return report.substr(at, report.find("\n## ", at + 1) - at);
}

study::StudyOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "fashion_mnist_experiments");
  auto options = study::study_flags();
  return study::parse_study_options(options.parse(static_cast<int>(args.size()), args.data()));
}

}  // namespace

TEST_CASE("study: --precision sets every cell's configuration and keeps fp32 cells as they were") {
  CHECK(parse({}).precision == mlp::MatmulPrecision::Float32);
  CHECK(parse({"--precision", "bf16"}).precision == mlp::MatmulPrecision::BFloat16);
  CHECK_THROWS_WITH_AS(parse({"--precision", "fp16"}), "--precision takes fp32 or bf16, but got 'fp16'", cli::UsageError);
  // fp32 is the configuration's default: fp32 cells are those of a study without the flag.
  const auto all = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto all_fp32 = with_precision(mlp::MatmulPrecision::Float32);
  const auto all_bf16 = with_precision(mlp::MatmulPrecision::BFloat16);
  const auto plain = study::make_cells(all, {42});
  const auto fp32 = study::make_cells(all_fp32, {42});
  const auto bf16 = study::make_cells(all_bf16, {42});
  for (std::size_t i = 0; i < plain.size(); ++i) {
    CHECK(fp32[i].config.to_json().dump(0) == plain[i].config.to_json().dump(0));
    CHECK(bf16[i].config != plain[i].config);
    // What the refusal of a cell of another configuration, and the comparison, say.
    CHECK(bf16[i].config.difference(plain[i].config) == "precision bf16 here, fp32 there");
  }
  auto sgd = plain[0].config;
  sgd.optimizer = "sgd";
  sgd.arch = "fc16";
  sgd.hidden.clear();
  CHECK(sgd.difference(plain[0].config) == "arch fc16 here, \"\" there; hidden [] here, [256, 128] there; "
                                           "optimizer sgd here, adam there");
}

TEST_CASE("study: --compare-to is checked before anything is read") {
  CHECK_THROWS_WITH_AS(parse({"--compare-to", "runs"}), doctest::Contains("is this study's own --out"),
                       cli::UsageError);  // the default --out is runs
  CHECK(parse({"--compare-to", "runs-fp32", "--out", "runs-bf16"}).compare_to == std::filesystem::path("runs-fp32"));
  CHECK_THROWS_WITH_AS(parse({"--compare-to", ""}), "--compare-to must not be empty", cli::UsageError);
  CHECK_THROWS_WITH_AS(parse({"--compare-to", "runs", "--no-report"}),
                       "--compare-to adds a section to the report; --no-report writes none", cli::UsageError);
  CHECK_THROWS_WITH_AS(parse({"--compare-to", "./runs/", "--out", "runs"}),
                       "--compare-to './runs/' is this study's own --out; it takes the folder of another study", cli::UsageError);
  CHECK(parse({"--compare-to", "runs", "--slurm", "--out", "runs-bf16"}).compare_to == std::filesystem::path("runs"));  // for the report job
}

TEST_CASE("study: the other study's folder: missing, empty, another split, or cells to compare") {
  const auto dir = std::filesystem::temp_directory_path() / "mlp-study-compare-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "empty");
  const auto experiments = with_precision(mlp::MatmulPrecision::BFloat16);
  const auto cells = study::make_cells(experiments, {42, 43});
  CHECK_THROWS_WITH_AS(study::read_other_study(dir / "none", cells, mlp::app::DataIdentity("abc")),
                       doctest::Contains("mlp-study-compare-test/none' is not a folder (it takes the --out folder of another study)"),
                       mlp::IoError);
  CHECK_THROWS_WITH_AS(study::read_other_study(dir / "empty", cells, mlp::app::DataIdentity("abc")),
                       doctest::Contains("--compare-to: no finished cell of this study's experiments and seeds in '"),
                       mlp::IoError);
  // One finished fp32 cell (no best epoch, so no best.mlp), as `train` writes its summary.
  auto write_cell = [&](const study::Cell& c, const std::string& split) {
    auto config = c.config;
    config.precision = mlp::MatmulPrecision::Float32;
    mlp::app::Json s = mlp::app::Json::object();
    s["config"] = config.to_json();
    s["epochs"] = mlp::app::Json::array();
    mlp::app::Json training = mlp::app::Json::object();
    training["stop_reason"] = "";
    training["stopped_early"] = false;
    training["diverged"] = false;
    training["best_epoch"] = 0;
    training["seconds"] = 0.0;  // (no epoch logged)
    s["training"] = training;
    mlp::app::Json model = mlp::app::Json::object();
    model["parameters"] = 10;
    s["model"] = model;
    mlp::EvalResult eval;
    eval.accuracy = 0.875;
    eval.loss = 0.4;
    eval.samples = 8;
    mlp::app::Json test = mlp::app::Json::object();
    const mlp::app::Json result = mlp::app::internal::eval_json(eval, false);
    test["best"] = result;
    test["last"] = result;
    s["test"] = test;
    mlp::app::Json data = mlp::app::Json::object();
    data["split_fingerprint"] = split;
    s["data"] = data;
    std::filesystem::create_directories(c.folder(dir / "fp32"));
    mlp::write_file_atomically(c.folder(dir / "fp32") / "summary.json", s.dump(2));
  };
  write_cell(cells[3], "abc");  // early_stopping/seed-43
  const auto other = study::read_other_study(dir / "fp32", cells, mlp::app::DataIdentity("abc"));
  CHECK(other.results.size() == 1);
  REQUIRE(other.results.count("early_stopping") == 1);
  CHECK(other.results.at("early_stopping").at(43).test_best.accuracy == 0.875);
  CHECK(other.differences.at("early_stopping").at(43) == "precision bf16 here, fp32 there");
  write_cell(cells[0], "def");  // baseline/seed-42 on another split: nothing is compared
  std::string error;
  try {
    study::read_other_study(dir / "fp32", cells, mlp::app::DataIdentity("abc"));
  } catch (const mlp::IoError& e) {
    error = e.what();
  }
  CHECK(error.find("--compare-to: cell baseline/seed-42 in '") == 0);
  CHECK(error.find("' ran on other data (data split def there, abc here); only runs on the same split") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("study: the comparison with another study claims no difference whose interval includes 0") {
  const auto here = synthetic_study(with_precision(mlp::MatmulPrecision::BFloat16), kSeeds, kBase, kNoise,
                                    [](const std::string&) { return 0.0; });
  const auto there = synthetic_study(study::all_experiments(mlp::DatasetKind::FashionMnist), kSeeds, kBase, kSmall,
                                     [](const std::string&) { return 0.0; });
  auto in = here;
  CHECK(section_of(study::report_text(in), "Compared with").empty());  // only with --compare-to
  in.compared = other_study(here, there);
  const std::string report = study::report_text(in);
  CHECK(report.find("ran in **bf16** (`--precision bf16`)") != std::string::npos);
  const std::string section = section_of(report, "Compared with another study: `runs-fp32`");
  REQUIRE(!section.empty());
  CHECK(section.find("What differs, in every compared cell: **precision bf16 here, fp32 there**.") != std::string::npos);
  // The two baselines are the same runs (both without noise): the same difference, 0, in every seed.
  CHECK(section.find("| `baseline` | 5 | 88.00% | 88.00% | 0.00 pp in every seed (no spread, no interval) | no spread "
                     "across the 5 seeds: no interval, no verdict |") != std::string::npos);
  CHECK(section.find("| `l2` | 5 | ") != std::string::npos);
  const auto rows = study::compare_experiments(in.experiments, in.results, *in.compared);
  CHECK(rows.size() == 14);
  for (const auto& r : rows) CHECK(study::effect_sign(r.difference) == 0);
  CHECK(section.find("| no difference detectable with 5 seeds |") != std::string::npos);
  CHECK(section.find("not detectably different from there in any of the 13 experiments with an interval.\nThe same "
                     "difference in every paired seed (no spread, so no interval and no verdict): `baseline`.") !=
        std::string::npos);
  for (const auto& phrase : claim_phrases()) {
    INFO("phrase: " << phrase);
    CHECK(section.find(phrase) == std::string::npos);
  }
  CHECK(section.find("detectably higher") == std::string::npos);
  CHECK(section.find("Not compared") == std::string::npos);
  CHECK(study::comparison_line(in.experiments, in.results, *in.compared) ==
        "compared with 'runs-fp32' (precision bf16 here, fp32 there): 70 cells of 14 experiments paired");
}

TEST_CASE("study: the comparison names differences whose interval excludes 0, and the cells not compared") {
  const auto here = synthetic_study(with_precision(mlp::MatmulPrecision::BFloat16), kSeeds, kBase, kSmall,
                                    [](const std::string& id) { return id == "cnn" ? 0.02 : id == "sgd" ? -0.03 : 0.0; });
  const auto there = synthetic_study(study::all_experiments(mlp::DatasetKind::FashionMnist), kSeeds, kBase, kNone,
                                     [](const std::string&) { return 0.0; });
  auto in = here;
  in.compared = other_study(here, there);
  in.compared->results["l2"].erase(45);  // missing there
  in.compared->results["l2"].erase(46);
  in.compared->results.erase("best");
  in.compared->differences["dropout"][42] = "precision bf16 here, fp32 there; epochs 30 here, 2 there";
  const std::string section = section_of(study::report_text(in), "Compared with another study");
  REQUIRE(!section.empty());
  CHECK(section.find("| `cnn` | 5 | 90.") != std::string::npos);
  CHECK(section.find("| +2.00 pp [+1.") != std::string::npos);
  CHECK(section.find("| better |") != std::string::npos);
  CHECK(section.find("| -3.00 pp [-") != std::string::npos);
  CHECK(section.find("| worse |") != std::string::npos);
  CHECK(section.find("| `l2` | 3 | ") != std::string::npos);  // the seeds both have
  CHECK(section.find("| `best` |") == std::string::npos);
  CHECK(section.find("Test accuracy detectably higher here than there: `cnn` (+2.00 pp). Test accuracy detectably "
                     "lower here than there: `sgd` (-3.00 pp). No difference detectable in the other 10 experiments "
                     "with an interval.\nThe same difference in every paired seed (no spread, so no interval and no "
                     "verdict): `baseline`.") != std::string::npos);
  CHECK(section.find("Not compared: 7 cells finished here with no finished run in `runs-fp32`: `l2/seed-45` "
                     "`l2/seed-46` `best/seed-42`") != std::string::npos);
  CHECK(section.find("What differs is not the same in every compared cell:\n\n- precision bf16 here, fp32 there: "
                     "`baseline`") != std::string::npos);
  CHECK(section.find("- precision bf16 here, fp32 there; epochs 30 here, 2 there: `dropout`\n") != std::string::npos);
}

TEST_CASE("study: the comparison's summary says nothing of the other experiments when there are none") {
  // (it said "No difference detectable in the other 0 experiments with an interval")
  std::vector<study::Experiment> two;
  for (const auto& x : with_precision(mlp::MatmulPrecision::BFloat16)) {
    if (x.id == "baseline" || x.id == "sgd") two.push_back(x);
  }
  std::vector<study::Experiment> two_fp32;
  for (const auto& x : study::all_experiments(mlp::DatasetKind::FashionMnist)) {
    if (x.id == "baseline" || x.id == "sgd") two_fp32.push_back(x);
  }
  const auto here = synthetic_study(two, kSeeds, kBase, kSmall, [](const std::string& id) { return id == "sgd" ? -0.03 : 0.0; });
  const auto there = synthetic_study(two_fp32, kSeeds, kBase, kNone, [](const std::string&) { return 0.0; });
  auto in = here;
  in.compared = other_study(here, there);
  const std::string section = section_of(study::report_text(in), "Compared with another study");
  CHECK(section.find("Test accuracy detectably lower here than there: `sgd` (-3.00 pp).\nThe same difference in every "
                     "paired seed") != std::string::npos);
  CHECK(section.find("other 0") == std::string::npos);
}

TEST_CASE("study: the comparison with one seed lists the differences and claims nothing") {
  const auto here = synthetic_study(with_precision(mlp::MatmulPrecision::BFloat16), {42}, {0.0}, {0.0},
                                    [](const std::string&) { return 0.02; });
  const auto there = synthetic_study(study::all_experiments(mlp::DatasetKind::FashionMnist), {42}, {0.0}, {0.0},
                                     [](const std::string&) { return 0.0; });
  auto in = here;
  in.compared = other_study(here, there);
  const std::string section = section_of(study::report_text(in), "Compared with another study");
  CHECK(section.find("+2.00 pp (one seed, no interval) | one seed: no interval, no verdict |") != std::string::npos);
  CHECK(section.find("With one paired seed per experiment there is no interval") != std::string::npos);
  for (const auto& phrase : claim_phrases()) {
    INFO("phrase: " << phrase);
    CHECK(section.find(phrase) == std::string::npos);
  }
}
