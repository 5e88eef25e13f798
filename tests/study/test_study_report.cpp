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

TEST_CASE("study: a value that rounds to zero prints without a sign") {
  using study::kAccuracy;
  using study::kLoss;
  CHECK(study::signed_text(-0.000001, kAccuracy) == "0.00 pp");
  CHECK(study::signed_text(0.00001, kLoss) == "0.0000");
  CHECK(study::signed_text(-0.02, kAccuracy) == "-2.00 pp");  // a shown difference keeps its sign
  CHECK(study::pct(-1e-9) == "0.00%");
  CHECK(study::loss4(-0.00001) == "0.0000");
  CHECK(study::fmt("%.3g", -0.0) == "0");
  CHECK(study::fmt("%.3g", -1e-300) == "-1e-300");  // not zero: its exponent's sign is not the number's
  CHECK(study::fmt(" (%.1fx on average)", -0.01) == " (0.0x on average)");
  mlp::app::MeanInterval tiny;  // the tester's arch_small: a mean difference of -0.00001
  tiny.n = 3, tiny.mean = -0.00001, tiny.lo = -0.0001, tiny.hi = 0.00008;
  CHECK(study::interval_cell(tiny, kAccuracy) == "0.00 pp [-0.01, +0.01]");
  CHECK(study::compare(tiny, kAccuracy, "higher", "lower", "the baseline's").find("(mean difference 0.00 pp, 95% CI -0.01 pp to +0.01 pp)") !=
        std::string::npos);
  // An effect too small to show at two decimals keeps its digits (the size was cut by one character).
  mlp::app::MeanInterval small;
  small.n = 3, small.mean = 0.00002, small.lo = 0.00001, small.hi = 0.00003;
  CHECK(study::compare(small, kAccuracy, "higher", "lower", "the baseline's").find("higher than the baseline's by 0.00 pp (") == 0);
}

TEST_CASE("study: a long number is printed whole, with its unit") {
  const std::string long_number = study::fmt("%.0f s", 1e300);
  CHECK(long_number.size() == 303);  // 301 digits and " s" (a 64-byte buffer cut it)
  CHECK(long_number.substr(long_number.size() - 2) == " s");
  CHECK(study::secs(1e300) == "1e+300 s");
  CHECK(study::secs(123456.0) == "123456 s");
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  auto in = synthetic_study(experiments, {42, 43}, {0.0, 0.1}, {0.0, 0.1}, [](const std::string&) { return 0.0; });
  in.results["arch_small"][42].train_seconds = 1e300;
  const std::string report = study::report_text(in);
  CHECK(report.find("the longest cell, `arch_small/seed-42` (1e+300 s).") != std::string::npos);
  CHECK(report.find("00000000000000000000") == std::string::npos);
}

TEST_CASE("study: the time section names a longest cell when every time is 0") {
  const auto experiments = study_test::only_experiments({"baseline", "l2"});
  auto in = synthetic_study(experiments, {42, 43}, {0.0, 0.1}, {0.0, 0.1}, [](const std::string&) { return 0.0; });
  for (auto& [id, runs] : in.results) {
    for (auto& [seed, r] : runs) r.train_seconds = 0.0;
  }
  const std::string report = study::report_text(in);
  CHECK(report.find("cell, ``") == std::string::npos);
  CHECK(report.find("about the longest cell, `baseline/seed-42` (0.00 s).") != std::string::npos);
}

TEST_CASE("study: the best configuration is described without a baseline, and counts of 1 are singular") {
  // The tester's studyG: `best` and `cnn` finished, the baseline not; one epoch, one seed.
  auto in = synthetic_study(study_test::only_experiments({"best", "cnn"}), {42}, {0.0}, {0.0},
                            [](const std::string&) { return 0.0; });
  study_test::keep_epochs(in, 1);
  in.timing.cores = 1;
  in.timing.trained = 1;
  const std::string report = study::report_text(in);
  CHECK(report.find("\n; ") == std::string::npos);
  CHECK(report.find("schedule; 1 epoch, early stopping with patience 1;") != std::string::npos);  // the configuration
  CHECK(report.find("The baseline has no finished cell, so the best run is not compared with it.") != std::string::npos);
  CHECK(report.find("It ran 1 epoch (stopped early in 0 of 1 seed)") != std::string::npos);
  for (const char* plural : {" 1 epochs", " 1 seeds", " 1 cells", " 1 cores", " 1 test images", "the others had"}) {
    INFO("plural: " << plural);
    CHECK(report.find(plural) == std::string::npos);
  }
  CHECK(report.find("1 of 2 cells is finished") == std::string::npos);  // both are
  CHECK(report.find("this machine's 1 core,") != std::string::npos);
}

TEST_CASE("study: with one epoch the report gives the epoch's numbers once") {
  auto in = synthetic_study(study::all_experiments(mlp::DatasetKind::FashionMnist), {42, 43, 44}, {0.0, 0.1, -0.1},
                            {0.5, -0.5, 0.2}, [](const std::string&) { return 0.0; });
  study_test::keep_epochs(in, 1);
  const std::string report = study::report_text(in);
  CHECK(report.find("at the end of epoch 1, and") == std::string::npos);
  CHECK(report.find("at the end of epoch 1, the only epoch.") != std::string::npos);
  CHECK(report.find("after epoch 1 and") == std::string::npos);
  CHECK(report.find("- Adam (lr 1e-3): training loss 1.0000 after its one epoch (mean over seeds);") != std::string::npos);
  CHECK(report.find("too few to tell whether its validation loss was still falling") != std::string::npos);
  CHECK(report.find("last five epochs in 0 of") == std::string::npos);
  auto one = synthetic_study(study::all_experiments(mlp::DatasetKind::FashionMnist), {42}, {0.0}, {0.0},
                             [](const std::string&) { return 0.0; });
  CHECK(study::report_text(one).find("over one seed") == std::string::npos);
}

TEST_CASE("study: experiments that did not run are said not to have run, not to show nothing") {
  // The tester's studyE: the baseline, `best`, the CNN and its MLP; no single-change experiment.
  const auto in = synthetic_study(study_test::only_experiments({"baseline", "best", "mlp_matched", "cnn"}), {42, 43},
                                  {0.0, 0.1}, {0.0, 0.1}, [](const std::string&) { return 0.0; });
  const std::string report = study::report_text(in);
  CHECK(report.find("none detectable") == std::string::npos);
  CHECK(report.find("No single-change experiment has a finished cell") != std::string::npos);
  CHECK(report.find("No regularizer experiment (`l1`, `l2`, `dropout`) has a finished cell") != std::string::npos);
}

TEST_CASE("study: the data section says what the cells trained and validated on") {
  auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  for (auto& x : experiments) x.config.train_limit = 2000;  // --quick
  auto in = synthetic_study(experiments, {42, 43}, {0.0, 0.1}, {0.0, 0.1}, [](const std::string&) { return 0.0; });
  in.train_images = 50000;
  std::string report = study::report_text(in);
  CHECK(report.find("Every finished cell trained on the first 2,000 of the split's 50,000 training images and "
                    "validated on the first 400 of its 10,000 validation images; every test result is on the whole "
                    "test set.") != std::string::npos);
  for (auto& [seed, r] : in.results["cnn"]) r.config.train_limit = 0;  // a cell of a full run among them
  report = study::report_text(in);
  CHECK(report.find("The finished cells did not all use the same images") != std::string::npos);
  CHECK(report.find("- trained on all of the split's 50,000 training images and validated on all of its 10,000 "
                    "validation images: `cnn`\n") != std::string::npos);
}

TEST_CASE("study: a difference that every seed repeats gets no verdict, and an impossible interval is noted") {
  // Every seed of every experiment with the baseline's jitter: identical differences, a zero-width interval.
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto in = synthetic_study(experiments, kSeeds, kBase, {0.0, 0.0, 0.0, 0.0, 0.0},
                                  [](const std::string& id) { return id == "dropout" ? 0.001 : 0.0; });
  const std::string report = study::report_text(in);
  CHECK(report.find("| `dropout` | 5 | +0.10 pp in every seed (no spread, no interval) | no spread across the 5 seeds: no "
                    "interval, no verdict |") != std::string::npos);
  CHECK(report.find("[+0.10, +0.10]") == std::string::npos);
  CHECK(report.find("| better |") == std::string::npos);
  CHECK(report.find("| worse |") == std::string::npos);
  for (const auto& phrase : claim_phrases()) {
    INFO("phrase: " << phrase);
    CHECK(claims_part(report).find(phrase) == std::string::npos);
  }
  CHECK(report.find("test accuracy 88.10% ± 0.04 pp, +0.10 pp from the baseline's in each of the 5 seeds (no spread "
                    "across seeds, so no interval: the seeds did not vary this difference") != std::string::npos);
  CHECK(report.find("is the same as the constant rate's in each of the 5 seeds (no spread") != std::string::npos);
  // Two seeds far apart: the t interval (t = 12.7) reaches past +-100 pp; printed as computed, with a note.
  mlp::app::MeanInterval wide;
  wide.n = 2, wide.mean = 0.0015, wide.lo = -3.11, wide.hi = 3.14;
  CHECK(study::interval_cell(wide, study::kAccuracy) ==
        "+0.15 pp [-311.00, +314.00] (wider than the possible -100 to +100 pp: too few seeds to bound it)");
  CHECK(study::compare(wide, study::kAccuracy, "higher", "lower", "the baseline's")
            .find("95% CI -311.00 pp to +314.00 pp, wider than the possible -100 to +100 pp: too few seeds to bound it)") !=
        std::string::npos);
  CHECK(study::interval_cell(wide, study::kLoss).find("wider") == std::string::npos);  // a loss has no such bound
}

TEST_CASE("study: the report's method says how many seeds its pairs have when cells are missing") {
  // (with 2 of 3 seeds finished it said "every experiment ran with 3 seeds" and "Student's t, 2 degrees
  // of freedom" over tables of 2 paired seeds)
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  auto in = synthetic_study(experiments, kSeeds, kBase, kNoise, [](const std::string&) { return 0.0; });
  const std::string n = std::to_string(kSeeds.size());
  const std::string complete = study::report_text(in);
  CHECK(complete.find("every experiment ran with " + n + " seeds (") != std::string::npos);
  CHECK(complete.find("(Student's t, " + std::to_string(kSeeds.size() - 1) + " degrees of freedom)") != std::string::npos);
  REQUIRE(!in.statuses.empty());
  in.statuses[0].state = study::CellStatus::State::Missing;
  const std::string partial = study::report_text(in);
  CHECK(partial.find("every experiment is planned with " + n + " seeds (") != std::string::npos);
  CHECK(partial.find("but not every cell is finished (section Cells)") != std::string::npos);
  CHECK(partial.find("ran with " + n + " seeds") == std::string::npos);
  CHECK(partial.find("degrees of freedom)") == std::string::npos);
  CHECK(partial.find("\"no difference detectable with k seeds\"") != std::string::npos);
}
