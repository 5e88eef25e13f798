// The report's wording is conditioned on the intervals: fed synthetic results without effects it
// claims none; with clear effects it names them; with one seed it claims nothing.
#include "synthetic_study.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using study_test::claim_phrases;
using study_test::claims_part;
using study_test::kBase;
using study_test::kNoise;
using study_test::kSeeds;
using study_test::synthetic_study;


std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("study: the report claims no effect whose interval includes 0") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto in = synthetic_study(experiments, kSeeds, kBase, kNoise, [](const std::string&) { return 0.0; });
  const std::string report = study::report_text(in);
  const std::string claims = claims_part(report);
  for (const auto& phrase : claim_phrases()) {
    INFO("phrase: " << phrase);
    CHECK(claims.find(phrase) == std::string::npos);
  }
  // Every experiment is compared, and each comparison says why there is no verdict.
  // Effects table: 13 experiments and cnn vs mlp_matched, two verdicts each; per-class table: 10.
  CHECK(count(report, "no difference detectable with 5 seeds |") == 2 * 14 + 10);
  CHECK(count(claims, "not detectably different") >= 30);
  CHECK(report.find("95% confidence interval (Student's t, 4 degrees of freedom)") != std::string::npos);
  CHECK(report.find("do not show that convolution helps") != std::string::npos);
  CHECK(report.find("Why convolution helps") == std::string::npos);
  CHECK(report.find("All 70 cells (experiment x seed) are finished.") != std::string::npos);
}

TEST_CASE("study: the report describes effects whose interval excludes 0") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const std::vector<double> small = {0.1, -0.1, 0.05, -0.05, 0.0};
  const auto in = synthetic_study(experiments, kSeeds, kBase, small, [](const std::string& id) {
    return id == "dropout" ? -0.02 : 0.02;  // every change helps by 2 points, except dropout, which hurts
  });
  const std::string report = study::report_text(in);
  CHECK(report.find("| `l2` | 5 | +2.00 pp [") != std::string::npos);
  CHECK(report.find("| `l2` | 5 | +2.00 pp [+1.") != std::string::npos);
  CHECK(count(report, "| better |") >= 10);
  CHECK(report.find("| `dropout` | 5 | -2.00 pp [") != std::string::npos);
  CHECK(count(report, "| worse |") == 2);  // dropout: accuracy and loss
  CHECK(report.find("higher than the baseline's by 2.00 pp (95% CI +1.") != std::string::npos);
  CHECK(report.find("Regularizers that detectably narrow") != std::string::npos);
  // The matched MLP and the CNN both moved by the same shift: no difference between them.
  CHECK(report.find("the CNN's is not detectably different from the MLP's") != std::string::npos);
}

TEST_CASE("study: the CNN section explains convolution only when the CNN is detectably more accurate") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const std::vector<double> small = {0.1, -0.1, 0.05, -0.05, 0.0};
  const auto in = synthetic_study(experiments, kSeeds, kBase, small,
                                  [](const std::string& id) { return id == "cnn" ? 0.03 : 0.0; });
  const std::string report = study::report_text(in);
  CHECK(report.find("the CNN's is higher than the MLP's by 3.00 pp") != std::string::npos);
  CHECK(report.find("Why convolution helps here") != std::string::npos);
  CHECK(report.find("18816 convolution parameters") != std::string::npos);  // 1*32*9+32 + 32*64*9+64
  CHECK(report.find("| Shirt | ") != std::string::npos);
  CHECK(report.find("detectably above the MLP's (interval above 0): T-shirt/top, Trouser,") != std::string::npos);
  CHECK(report.find("Shirt and T-shirt/top were mistaken for each other") != std::string::npos);
}

TEST_CASE("study: with one seed the report gives no interval and claims nothing") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto in = synthetic_study(experiments, {42}, {0.0}, {0.0}, [](const std::string& id) {
    return id == "dropout" ? -0.02 : 0.02;
  });
  const std::string report = study::report_text(in);
  CHECK(report.find("With one seed there is no confidence interval") != std::string::npos);
  CHECK(report.find("| one seed: no interval, no verdict |") != std::string::npos);
  CHECK(report.find("+2.00 pp (one seed, no interval)") != std::string::npos);
  for (const auto& phrase : claim_phrases()) {
    INFO("phrase: " << phrase);
    CHECK(claims_part(report).find(phrase) == std::string::npos);
  }
  CHECK(report.find("| `baseline` | 42 | 88.00% | 0.3300 |") != std::string::npos);  // the single-seed table
}

TEST_CASE("study: the report names the cells that are missing, failed or of another configuration") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  auto in = synthetic_study(experiments, {42, 43}, {0.0, 0.1}, {0.0, 0.0}, [](const std::string&) { return 0.0; });
  in.statuses[0].state = study::CellStatus::State::Failed;
  in.statuses[0].detail = "architectures with conv blocks are not available in this build";
  in.statuses[1].state = study::CellStatus::State::OtherRun;
  in.statuses[1].detail = "epochs 30 here, 1 there";
  in.statuses[2].state = study::CellStatus::State::Missing;
  const std::string report = study::report_text(in);
  CHECK(report.find("**25 of 28 cells are finished.**") != std::string::npos);
  CHECK(report.find("- `baseline/seed-42`: failed: architectures with conv blocks") != std::string::npos);
  CHECK(report.find("- `baseline/seed-43`: holds a run of another configuration (epochs 30 here, 1 there)") != std::string::npos);
  CHECK(report.find("- `early_stopping/seed-42`: not run yet") != std::string::npos);
}
