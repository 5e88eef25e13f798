// The study's cells: --seeds and --only, the refusal to replace another configuration's run, the
// CNN and its matched MLP, the Slurm scripts, and the shaded bands of the figures.
#include "study/cells.hpp"
#include "study/compare.hpp"
#include "study/cost.hpp"
#include "study/options.hpp"
#include "study/runner.hpp"
#include "study/slurm.hpp"

#include <mlp_app/svg_charts.hpp>
#include <mlp_app/svg_plot.hpp>

#include <doctest/doctest.h>

#include <mlp/io/atomic_file.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Seeds = std::vector<std::uint64_t>;

// Cells point at their experiments: make_cells refuses a temporary list at compile time.
template <class List, class = void>
struct MakesCells : std::false_type {};
template <class List>
struct MakesCells<List, std::void_t<decltype(study::make_cells(std::declval<List>(), Seeds{}))>> : std::true_type {};
static_assert(MakesCells<const std::vector<study::Experiment>&>::value);
static_assert(!MakesCells<std::vector<study::Experiment>>::value);
// A split's fingerprint alone is not taken for a run's data identity without saying so.
static_assert(!std::is_convertible_v<std::string, mlp::app::DataIdentity>);
static_assert(!std::is_convertible_v<const char*, mlp::app::DataIdentity>);
using mlp::app::Json;

// A finished cell's summary.json as `train` writes it: 3 classes, 2 epochs, no best epoch (so no
// best.mlp), on the data split "abc".
Json cell_summary(const study::Cell& c) {
  Json s = Json::object();
  s["config"] = c.config.to_json();
  Json data = Json::object();
  data["split_fingerprint"] = "abc";
  data["class_names"] = Json::array_of(std::vector<std::string>{"a", "b", "c"});
  s["data"] = data;
  Json model = Json::object();
  model["parameters"] = 10;
  s["model"] = model;
  Json training = Json::object();
  training["stop_reason"] = "completed 2 epochs";
  training["stopped_early"] = false;
  training["diverged"] = false;
  training["best_epoch"] = 0;
  training["seconds"] = 2.5;
  s["training"] = training;
  mlp::EvalResult eval;
  eval.accuracy = 0.5;
  eval.loss = 0.7;
  eval.samples = 4;
  eval.confusion = mlp::ConfusionMatrix(3);
  eval.confusion.add_count(0, 0, 2);
  eval.confusion.add_count(1, 2, 1);
  eval.confusion.add_count(2, 1, 1);  // (2 of the 4 right: the accuracy above)
  Json test = Json::object();
  test["best"] = mlp::app::internal::eval_json(eval, true);
  test["last"] = mlp::app::internal::eval_json(eval, true);
  s["test"] = test;
  Json epochs = Json::array();
  for (int e = 1; e <= 2; ++e) {
    mlp::EpochLog log;
    log.epoch = e, log.train_loss = 0.9, log.train_acc = 0.6, log.val_loss = 0.8, log.val_acc = 0.55;
    log.lr = 1e-3, log.seconds = 1.25, log.penalty = 0.0, log.steps = 2 * e;
    epochs.push_back(mlp::app::internal::epoch_json(log));
  }
  s["epochs"] = epochs;
  return s;
}

// What the study makes of the cell once its summary.json holds `text`: "finished", or the state
// and its detail.
std::string cell_verdict(const std::filesystem::path& out, const study::Cell& c, const std::string& text) {
  std::filesystem::create_directories(c.folder(out));
  mlp::write_file_atomically(c.folder(out) / "summary.json", text);
  const auto s = study::inspect_cell(out, c, mlp::app::DataIdentity("abc"));
  if (s.state == study::CellStatus::State::Finished) return "finished";
  return (s.state == study::CellStatus::State::Unusable ? "unusable: " : "other state: ") + s.detail;
}

std::string edited_verdict(const std::filesystem::path& out, const study::Cell& c, const std::function<void(Json&)>& edit) {
  Json s = cell_summary(c);
  edit(s);
  return cell_verdict(out, c, s.dump(2));
}

study::StudyOptions parse_cell_flags(std::vector<const char*> args) {
  args.insert(args.begin(), "fashion_mnist_experiments");
  auto options = study::study_flags();
  return study::parse_study_options(options.parse(static_cast<int>(args.size()), args.data()));
}

}  // namespace

TEST_CASE("study: a summary keeps the test samples whose logits held a NaN, and writes nothing for them when none did") {
  mlp::EvalResult eval;
  eval.accuracy = 0.25;
  eval.loss = 0.7;
  eval.samples = 4;
  eval.confusion = mlp::ConfusionMatrix(2);
  eval.confusion.add_count(0, 0, 1);
  eval.confusion.add_count(1, 0, 1);
  CHECK_FALSE(mlp::app::internal::eval_json(eval, true).contains("unpredicted"));  // files as before
  eval.confusion.add_unpredicted(1, 2);
  const Json j = mlp::app::internal::eval_json(eval, true);
  REQUIRE(j.contains("unpredicted"));
  const mlp::EvalResult back = mlp::app::internal::eval_from_json(j, "test.best", false, 2);
  CHECK(back.confusion.unpredicted(0) == 0);
  CHECK(back.confusion.unpredicted(1) == 2);
  CHECK(back.confusion.class_accuracy(1) == 0.0);
  CHECK(back.confusion.accuracy() == doctest::Approx(0.25));
  Json wrong = j;
  wrong["unpredicted"] = Json::array();
  CHECK_THROWS_WITH_AS(mlp::app::internal::eval_from_json(wrong, "test.best", false, 2),
                       "test.best.unpredicted has 0 entries (expected one per class: 2)", mlp::IoError);
}

TEST_CASE("study: --seeds is a count from 42 or a list") {
  CHECK(study::parse_seeds("5") == Seeds{42, 43, 44, 45, 46});
  CHECK(study::parse_seeds("1") == Seeds{42});  // the single-seed study
  CHECK(study::parse_seeds("42,7,19") == Seeds{42, 7, 19});
  CHECK(study::parse_seeds("7,") == Seeds{7});  // a list of one
  CHECK(study::parse_seeds("0,1") == Seeds{0, 1});
  for (const Seeds& s : {Seeds{42}, Seeds{7}, Seeds{42, 43}, Seeds{5, 1, 9}}) CHECK(study::parse_seeds(study::seeds_flag(s)) == s);
  CHECK_THROWS_WITH_AS(study::parse_seeds("0"), doctest::Contains("number of seeds from 1 to 1000 or a list of seeds such as 42,43,44, but got '0'"),
                       cli::UsageError);
  CHECK_THROWS_WITH_AS(study::parse_seeds("42,43,42"), doctest::Contains("seed 42 is listed twice"), cli::UsageError);
  CHECK_THROWS_WITH_AS(study::parse_seeds("42,x"), doctest::Contains("'x' is not a seed"), cli::UsageError);
  for (const char* bad : {"", "-3", "1001", "+5", " 5", "5x", ",", "42,,43", "9007199254740992,1"}) {
    INFO(bad);
    CHECK_THROWS_AS(study::parse_seeds(bad), cli::UsageError);
  }
}

TEST_CASE("study: --only selects experiments or single cells") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, {42, 43});
  CHECK(cells.size() == 28);
  CHECK(cells[3].name() == "early_stopping/seed-43");
  CHECK(cells[3].config.seed == 43);
  CHECK(cells[3].folder("runs") == std::filesystem::path("runs/early_stopping/seed-43"));
  const study::Selection only("l2,cnn/seed-43", experiments, {42, 43});
  std::vector<std::string> picked;
  for (const auto& c : cells) {
    if (only.contains(c)) picked.push_back(c.name());
  }
  CHECK(picked == std::vector<std::string>{"l2/seed-42", "l2/seed-43", "cnn/seed-43"});
  CHECK(study::Selection("", experiments, {42}).all());
  CHECK_THROWS_WITH_AS(study::Selection("dropuot", experiments, {42}), "--only: unknown experiment 'dropuot' (see --list)",
                       cli::UsageError);
  CHECK_THROWS_WITH_AS(study::Selection("l2/seed-44", experiments, {42, 43}),
                       doctest::Contains("names seed '44', which is not one of the study's seeds"), cli::UsageError);
}

TEST_CASE("study: --seeds 1 gives the single-seed study's configurations") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, study::parse_seeds("1"));
  REQUIRE(cells.size() == experiments.size());
  for (std::size_t i = 0; i < cells.size(); ++i) CHECK(cells[i].config == experiments[i].config);
  CHECK(cells[0].config.seed == 42);
  CHECK(cells[0].config.split_seed == 42);
}

TEST_CASE("study: a cell of another configuration is refused without --force, naming it and the difference") {
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, {42});
  std::vector<study::CellStatus> statuses;
  for (const auto& c : cells) statuses.push_back({c, study::CellStatus::State::Missing, std::nullopt, ""});
  statuses[0].state = study::CellStatus::State::OtherRun;
  statuses[0].detail = "epochs 1 here, 30 there";
  statuses[1].state = study::CellStatus::State::Finished;
  const study::Selection all;
  CHECK_THROWS_WITH_AS(study::plan_training(statuses, all, false, "runs"),
                       "cell baseline/seed-42 in 'runs' holds a finished run of another configuration (epochs 1 here, "
                       "30 there); nothing was changed: use another --out, or --force to replace them",
                       mlp::IoError);
  CHECK(study::plan_training(statuses, all, true, "runs").size() == cells.size());  // --force: everything
  statuses[0].state = study::CellStatus::State::Missing;
  CHECK(study::plan_training(statuses, all, false, "runs").size() == cells.size() - 1);  // the finished one is kept
  const study::Selection only_l2("l2", experiments, {42});
  statuses[0].state = study::CellStatus::State::OtherRun;
  CHECK(study::plan_training(statuses, only_l2, false, "runs").size() == 1);  // not selected: left alone
}

TEST_CASE("study: the CNN and the MLP matched to it have about the same number of parameters") {
  const mlp::Shape image(1, 28, 28);
  const auto cnn = study::model_cost(study::cnn_config(mlp::DatasetKind::FashionMnist), image, 10);
  const auto mlp = study::model_cost(study::mlp_matched_config(mlp::DatasetKind::FashionMnist), image, 10);
  CHECK(cnn.parameters == 421834);
  CHECK(mlp.parameters == 425098);
  CHECK(cnn.conv_parameters == 18816);
  // Multiply-adds per image: 28*28*32*9 + 14*14*64*32*9 + 3136*128 + 128*10 (+ the pools' reads).
  CHECK(cnn.macs == doctest::Approx(225792 + 3612672 + 401408 + 1280 + 25088 + 12544));
  CHECK(mlp.macs == doctest::Approx(784 * 480 + 480 * 96 + 960));
  CHECK(mlp.work == mlp.macs);  // convolutions weigh more in the time estimates, dense layers as they are
  CHECK(cnn.work == doctest::Approx(cnn.macs + (study::kConvSlowdown - 1.0) * (225792 + 3612672)));
  const auto baseline = study::baseline_config(mlp::DatasetKind::FashionMnist);
  CHECK(study::image_passes(baseline, 50000, 10000) == 30 * (3 * 50000.0 + 10000) + 20000);
}

TEST_CASE("study: the time-left estimate uses what finished cells took") {
  study::TimeLeft left({4.0, 4.0, 1.0, 1.0}, {"a", "a", "b", "b"}, 1);
  left.start(0);
  const double after_first = left.finish(0);
  CHECK(after_first >= 0.0);  // known once one cell has finished (here: about 0 s per unit of cost)
  CHECK(study::duration_text(42) == "42 s");
  CHECK(study::duration_text(610) == "10 min");
  CHECK(study::duration_text(3 * 3600 + 5 * 60) == "3 h 05 min");
  CHECK(study::duration_text(-1) == "?");
}

TEST_CASE("study: the Slurm scripts run one cell per array task and the report after all of them") {
  study::SlurmOptions o;
  o.partition = "cpu";
  o.time = "01:00:00";
  const std::vector<std::string> command = {"/opt/bin/fashion_mnist_experiments", "--out", "/shared/my runs", "--seeds", "42,43"};
  const std::string array = study::array_script({"baseline/seed-42", "l2/seed-43", "cnn/seed-42"}, command, "/shared/logs", o);
  CHECK(array.rfind("#!/bin/bash\n", 0) == 0);
  CHECK(array.find("#SBATCH --array=0-2\n") != std::string::npos);
  CHECK(array.find("#SBATCH --partition=cpu\n#SBATCH --time=01:00:00\n") != std::string::npos);
  CHECK(array.find("#SBATCH --cpus-per-task=1\n") != std::string::npos);
  CHECK(array.find("#SBATCH --output=\"/shared/logs/cell-%A_%a.out\"\n") != std::string::npos);
  CHECK(array.find("cells=(\n  baseline/seed-42\n  l2/seed-43\n  cnn/seed-42\n)\n") != std::string::npos);
  CHECK(array.find("exec '/opt/bin/fashion_mnist_experiments' '--out' '/shared/my runs' '--seeds' '42,43' "
                   "--only \"${cells[$SLURM_ARRAY_TASK_ID]}\" --no-report\n") != std::string::npos);
  const std::string report = study::report_script(command, "/shared/logs", o);
  CHECK(report.find("#SBATCH --kill-on-invalid-dep=yes\n") != std::string::npos);
  CHECK(report.find("' --report-only\n") != std::string::npos);
  CHECK(report.find("--array") == std::string::npos);
  CHECK(report.find("#SBATCH --output=\"/shared/logs/report-%j.out\"\n") != std::string::npos);
  // In #SBATCH lines a path is quoted (sbatch splits at spaces) and its '%' doubled (sbatch expands
  // %u, %j, ... in file names); a double quote or a backslash cannot be written there.
  CHECK(study::sbatch_path("/runs of 'x' 100%u") == "\"/runs of 'x' 100%%u\"");
  CHECK(study::array_script({"baseline/seed-42"}, command, "/a b/100%/logs", o)
            .find("#SBATCH --output=\"/a b/100%%/logs/cell-%A_%a.out\"\n") != std::string::npos);
  CHECK_THROWS_WITH_AS(study::sbatch_path("/runs/a\"b"), doctest::Contains("holds a double quote, a backslash or a line break"),
                       cli::UsageError);
  CHECK_THROWS_AS(study::sbatch_path("/runs/a\\b"), cli::UsageError);
  CHECK(study::shell_quote("it's") == "'it'\\''s'");
  CHECK(study::find_in_path("sh") != "");
  CHECK(study::find_in_path("no-such-program-mlp") == "");
}

TEST_CASE("study: the confusion figure shows the samples that predicted no class, only when there are some") {
  mlp::ConfusionMatrix cm(2);
  cm.add_count(0, 0, 3);
  cm.add_count(1, 0, 1);
  cm.add_count(1, 1, 2);
  const std::vector<std::string> names = {"cat", "dog"};
  const std::string plain = mlp::app::render_confusion_svg(cm, names, "t");
  CHECK(plain.find("no class") == std::string::npos);
  cm.add_unpredicted(1, 5);  // NaN logits: counted apart, as the accuracy does
  const std::string with_nan = mlp::app::render_confusion_svg(cm, names, "t");
  CHECK(with_nan.find(">no class (NaN)<") != std::string::npos);
  CHECK(with_nan.find(">5<") != std::string::npos);
  CHECK(with_nan.size() > plain.size());
  // A row's colours are shares of all its samples: dog -> cat is 1 of 8 (1 + 2 + 5), not 1 of 3.
  CHECK(with_nan.find("#a4cde3") != std::string::npos);
  CHECK(plain.find("#a4cde3") == std::string::npos);
}

TEST_CASE("study: a series' band is drawn under the grid and the curves") {
  mlp::app::PlotFigure f;
  f.title = "bands";
  mlp::app::PlotPanel p{"Loss", "epoch", "loss", {}, {}};
  p.series.push_back({"run", {1, 2, 3}, {0.5, 0.4, 0.35}, "#0072B2", false, {0.45, 0.3, 0.3}, {0.6, 0.5, 0.9}});
  f.panels = {p};
  const std::string svg = mlp::app::render_line_figure(f);
  const auto polygon = svg.find("<polygon"), grid = svg.find("<line"), curve = svg.find("<polyline");
  REQUIRE(polygon != std::string::npos);
  CHECK(svg.find("<rect") < polygon);  // over the white background
  CHECK(polygon < grid);
  CHECK(polygon < curve);
  CHECK(svg.find("fill=\"#0072B2\" fill-opacity=\"0.16\"") != std::string::npos);
  // The y axis covers the band (0.9), not only the curve.
  CHECK(svg.find(">0.9<") != std::string::npos);
}

TEST_CASE("study: a figure of values near the double's limits has finite coordinates and labels that say the value") {
  // (-1e308 to 1e308 overflowed the axis range: UB, "-nan" coordinates; 1e300 was labelled with 31
  // digits cut short)
  mlp::app::PlotFigure f;
  mlp::app::PlotPanel p{"Loss", "epoch", "loss", {}, {}};
  p.series.push_back({"run", {1, 2, 3}, {-1e308, 0.0, 1e308}, "#0072B2", false, {}, {}});
  f.panels = {p};
  const std::string svg = mlp::app::render_line_figure(f);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  CHECK(svg.find(">1.0e+300<") != std::string::npos);
  const mlp::app::Ticks t = mlp::app::nice_ticks(0.0, 1e300);
  CHECK(mlp::app::tick_label(1e300, t) == "1.0e+300");
  CHECK(mlp::app::tick_label(4e299, t) == "4.0e+299");
  CHECK(mlp::app::tick_label(0.4, mlp::app::nice_ticks(0.0, 1.0)) == "0.4");  // (fixed notation as before)
  // A narrow range of large values keeps the digits that tell its ticks apart.
  const mlp::app::Ticks narrow = mlp::app::nice_ticks(1e16, 1e16 + 100);
  CHECK(mlp::app::tick_label(1e16, narrow) != mlp::app::tick_label(1e16 + narrow.step, narrow));
}

TEST_CASE("study: SVG text drops control characters and replaces bytes that are not UTF-8") {
  // (a class name with \x01 or a Latin-1 byte made the figures unreadable XML)
  CHECK(mlp::app::SvgWriter::escape("auto\x01mobile\x7f") == "automobile");
  CHECK(mlp::app::SvgWriter::escape("a\tb") == "a\tb");  // (XML allows a tab)
  CHECK(mlp::app::SvgWriter::escape("cat\xef\xbf\xbe!\xef\xbf\xbf") == "cat\xef\xbf\xbd!\xef\xbf\xbd");  // U+FFFE, U+FFFF
  CHECK(mlp::app::SvgWriter::escape("\xef\xbf\xbd\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD kept; a cut one
  CHECK(mlp::app::SvgWriter::escape("caf\xe9 <&>\"") == "caf\xef\xbf\xbd &lt;&amp;&gt;&quot;");
  CHECK(mlp::app::SvgWriter::escape("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("study: a summary.json value out of range is refused, naming the file and the field") {
  const auto out = std::filesystem::temp_directory_path() / "mlp-study-summary-values";
  std::filesystem::remove_all(out);
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, {42});
  const study::Cell& c = cells[0];
  const std::string file = (c.folder(out) / "summary.json").string();
  CHECK(edited_verdict(out, c, [](Json&) {}) == "finished");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["accuracy"] = 5.0; }) ==
        "unusable: " + file + ": test.best.accuracy is 5 (expected 0 to 1)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["last"]["accuracy"] = -0.25; }) ==
        "unusable: " + file + ": test.last.accuracy is -0.25 (expected 0 to 1)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["loss"] = 1e308; }) ==
        "unusable: " + file + ": test.best.loss is 1e+308 (expected 0 to 3.4e38; null only after divergence)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["loss"] = -1.0; }) ==
        "unusable: " + file + ": test.best.loss is -1 (expected 0 to 3.4e38; null only after divergence)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["loss"] = Json(); }) ==
        "unusable: " + file + ": test.best.loss is null (expected 0 to 3.4e38; null only after divergence)");
  CHECK(edited_verdict(out, c, [](Json& s) {  // a diverged run's test loss may be NaN
          s["test"]["best"]["loss"] = Json();
          s["training"]["diverged"] = true;
        }) == "finished");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["per_class_accuracy"].push_back(Json(0.5)); }) ==
        "unusable: " + file + ": test.best.per_class_accuracy has 4 entries (expected one per class: 3)");
  CHECK(edited_verdict(out, c, [](Json& s) {
          Json list = Json::array_of(std::vector<double>{1.0, 0.0, 2.0});
          s["test"]["last"]["per_class_accuracy"] = list;
        }) == "unusable: " + file + ": test.last.per_class_accuracy[2] is 2 (expected 0 to 1)");
  CHECK(edited_verdict(out, c, [](Json& s) {
          Json epochs = s["epochs"];
          Json second = epochs.elements()[1];
          second["val_acc"] = 55.0;  // a percentage
          Json rebuilt = Json::array();
          rebuilt.push_back(epochs.elements()[0]);
          rebuilt.push_back(second);
          s["epochs"] = rebuilt;
        }) == "unusable: " + file + ": epochs[1].val_acc is 55 (expected 0 to 1)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["training"]["seconds"] = -3.0; }) ==
        "unusable: " + file + ": training.seconds is -3 (expected 0 to 1e9 seconds)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["training"]["seconds"] = 1e300; }) ==  // (a 301-digit time in the report)
        "unusable: " + file + ": training.seconds is 1e+300 (expected 0 to 1e9 seconds)");
  // null: the accuracy of a class the split has no image of; refused for a class it has images of
  CHECK(edited_verdict(out, c, [](Json& s) {
          Json list = s["test"]["last"]["per_class_accuracy"];
          Json rebuilt = Json::array();
          rebuilt.push_back(Json());
          for (std::size_t k = 1; k < list.elements().size(); ++k) rebuilt.push_back(list.elements()[k]);
          s["test"]["last"]["per_class_accuracy"] = rebuilt;
        }) == "unusable: " + file + ": test.last.per_class_accuracy[0] is null (expected 0 to 1)");
  CHECK(edited_verdict(out, c, [](Json& s) {
          Json& last = s["test"]["last"];
          Json confusion = Json::array();
          for (std::size_t k = 0; k < last["confusion"].elements().size(); ++k) {
            Json row = last["confusion"].elements()[k];
            if (k == 0) row = Json::array_of(std::vector<double>(row.elements().size(), 0.0));
            confusion.push_back(row);
          }
          last["confusion"] = confusion;
          Json per_class = Json::array();
          per_class.push_back(Json());
          for (std::size_t k = 1; k < last["per_class_accuracy"].elements().size(); ++k) {
            per_class.push_back(last["per_class_accuracy"].elements()[k]);
          }
          last["per_class_accuracy"] = per_class;
          last["accuracy"] = 0.0;  // (the hits were class 0's)
        }) == "finished");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["accuracy"] = "high"; }) ==
        "unusable: " + file + ": test.best.accuracy is not a number");
  // The report and the console say so, and the cell is trained again (as a missing one would be).
  edited_verdict(out, c, [](Json& s) { s["test"]["best"]["accuracy"] = 5.0; });
  const auto statuses = study::inspect_cells(out, cells, mlp::app::DataIdentity("abc"));
  CHECK(study::why_not_finished(statuses[0]) ==
        "its run cannot be used: " + file + ": test.best.accuracy is 5 (expected 0 to 1)");
  const auto planned = study::plan_training(statuses, study::Selection(), false, out);
  REQUIRE(planned.size() == cells.size());
  CHECK(study::unusable_notes(planned) == "baseline/seed-42 is computed again: its run cannot be used: " + file +
                                              ": test.best.accuracy is 5 (expected 0 to 1)\n");
  std::filesystem::remove_all(out);
}

TEST_CASE("study: a summary.json whose values contradict each other is refused, naming them") {
  // (edited files with values in range were reported as they stood: an accuracy of 95% beside a
  // confusion matrix of 78%, epochs 2, 2 or 1..4 of a 2-epoch run, 999 s of training for 0.05 s of epochs)
  const auto out = std::filesystem::temp_directory_path() / "mlp-study-summary-contradictions";
  std::filesystem::remove_all(out);
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, {42});
  const study::Cell& c = cells[0];
  const std::string file = (c.folder(out) / "summary.json").string();
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["best"]["accuracy"] = 0.75; }) ==
        "unusable: " + file + ": test.best.accuracy is 0.75, but test.best.confusion has 2 of the 4 samples right");
  CHECK(edited_verdict(out, c, [](Json& s) { s["test"]["last"]["per_class_accuracy"] = Json::array_of(std::vector<double>{1.0, 0.5, 0.0}); }) ==
        "unusable: " + file + ": test.last.per_class_accuracy[1] is 0.5, but the confusion matrix gives 0");
  CHECK(edited_verdict(out, c, [](Json& s) {
          Json epochs = Json::array();
          for (const Json& e : s["epochs"].elements()) epochs.push_back(e);
          epochs.push_back(epochs.elements().back());  // (a third epoch, numbered 2 again)
          s["epochs"] = epochs;
        }) == "unusable: " + file + ": epochs[2].epoch is 2 (expected 3)");
  CHECK(edited_verdict(out, c, [](Json& s) { s["training"]["seconds"] = 999.0; }) ==
        "unusable: " + file + ": training.seconds is 999, but its epochs took 2.5 s");
  CHECK(edited_verdict(out, c, [](Json& s) { s["data"]["test_samples"] = 20000; }) ==
        "unusable: " + file + ": test.best.samples is 4, but data.test_samples is 20000");
  study::Cell one_epoch = c;  // a run of 1 epoch that logged 2
  one_epoch.config.epochs = 1;
  CHECK(edited_verdict(out, one_epoch, [](Json&) {}) ==
        "unusable: " + file + ": epochs has 2 entries, more than config.epochs (1)");
  std::filesystem::remove_all(out);
}

TEST_CASE("study: a cell that ran on other images or labels, on the same split, is another run") {
  // (a test set changed in place keeps the split's fingerprint: its cells were reused, and their
  // accuracies on the old test set reported as this data's)
  const auto out = std::filesystem::temp_directory_path() / "mlp-study-other-data";
  std::filesystem::remove_all(out);
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, {42});
  const study::Cell& c = cells[0];
  const mlp::app::DataIdentity here("abc", "22222222");
  edited_verdict(out, c, [](Json& s) { s["data"]["data_fingerprint"] = "11111111"; });
  const auto other = study::inspect_cell(out, c, here);
  CHECK(other.state == study::CellStatus::State::OtherRun);
  CHECK(other.detail.find("data (images and labels) 11111111 there, 22222222 here") != std::string::npos);
  std::string error;
  try {
    study::read_other_study(out, cells, here);
  } catch (const mlp::IoError& e) {
    error = e.what();
  }
  CHECK(error.find("' ran on other data (data (images and labels) 11111111 there, 22222222 here); only runs on the "
                   "same split and test set can be paired") != std::string::npos);
  // The same data, or a summary from before data fingerprints (none recorded), is this run.
  edited_verdict(out, c, [](Json& s) { s["data"]["data_fingerprint"] = "22222222"; });
  CHECK(study::inspect_cell(out, c, here).state == study::CellStatus::State::Finished);
  edited_verdict(out, c, [](Json&) {});
  CHECK(study::inspect_cell(out, c, here).state == study::CellStatus::State::Finished);
  std::filesystem::remove_all(out);
}

TEST_CASE("study: a cut-short summary.json or best.mlp is named, not reported as not run yet") {
  const auto out = std::filesystem::temp_directory_path() / "mlp-study-summary-corrupt";
  std::filesystem::remove_all(out);
  const auto experiments = study::all_experiments(mlp::DatasetKind::FashionMnist);
  const auto cells = study::make_cells(experiments, {42});
  const study::Cell& c = cells[0];
  const std::string file = (c.folder(out) / "summary.json").string();
  CHECK(study::why_not_finished(study::inspect_cell(out, c, mlp::app::DataIdentity("abc"))) == "not run yet");  // no folder at all
  const std::string text = cell_summary(c).dump(2);
  CHECK(cell_verdict(out, c, "").rfind("unusable: " + file + " is not valid JSON (", 0) == 0);
  CHECK(cell_verdict(out, c, text.substr(0, text.size() / 2)).rfind("unusable: " + file + " is not valid JSON (", 0) == 0);
  // A best epoch whose best.mlp is missing or cut short.
  Json s = cell_summary(c);
  s["training"]["best_epoch"] = 1;
  const std::string best = (c.folder(out) / "best.mlp").string();
  CHECK(cell_verdict(out, c, s.dump(2)).rfind("unusable: " + best + " cannot be loaded (", 0) == 0);
  mlp::write_file_atomically(c.folder(out) / "best.mlp", "MLPM");
  CHECK(cell_verdict(out, c, s.dump(2)).rfind("unusable: " + best + " cannot be loaded (", 0) == 0);
  const auto status = study::inspect_cell(out, c, mlp::app::DataIdentity("abc"));
  CHECK(study::why_not_finished(status).rfind("its run cannot be used: " + best + " cannot be loaded (", 0) == 0);
  // --compare-to refuses such a cell of the other study rather than leaving it out unnoticed.
  std::string error;
  try {
    study::read_other_study(out, cells, mlp::app::DataIdentity("abc"));
  } catch (const mlp::IoError& e) {
    error = e.what();
  }
  CHECK(error.rfind("--compare-to: cell baseline/seed-42 in '" + out.string() + "' cannot be used: " + best +
                        " cannot be loaded (", 0) == 0);
  std::filesystem::remove_all(out);
}

TEST_CASE("study: an --out that cannot be created or written to is refused before anything is trained") {
  const auto dir = std::filesystem::temp_directory_path() / "mlp-study-out-check";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  mlp::write_file_atomically(dir / "somefile", "x");
  CHECK_THROWS_WITH_AS(study::require_writable_folder(dir / "somefile" / "x", true),
                       ("--out '" + (dir / "somefile" / "x").string() + "': the folder cannot be created (Not a directory)").c_str(),
                       mlp::IoError);
  CHECK_THROWS_WITH_AS(study::require_writable_folder(dir / "somefile", true),
                       ("--out '" + (dir / "somefile").string() + "' is not a folder").c_str(), mlp::IoError);
  if (std::filesystem::is_directory("/proc/self")) {
    CHECK_THROWS_WITH_AS(study::require_writable_folder("/proc/mlp-study-out", true),
                         doctest::Contains("--out '/proc/mlp-study-out': the folder cannot be created ("), mlp::IoError);
  }
  // A new folder is created and left empty; --report-only (create = false) creates none.
  study::require_writable_folder(dir / "new" / "runs", true);
  CHECK(std::filesystem::is_directory(dir / "new" / "runs"));
  CHECK(std::filesystem::is_empty(dir / "new" / "runs"));
  study::require_writable_folder(dir / "absent", false);
  CHECK(!std::filesystem::exists(dir / "absent"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("study: --only with no experiment and --epochs 0 are refused") {
  CHECK_THROWS_WITH_AS(parse_cell_flags({"--threads", "1", "--only", ""}), "--only: no experiment given", cli::UsageError);
  CHECK_THROWS_WITH_AS(parse_cell_flags({"--threads", "1", "--epochs", "0"}),
                       "--epochs has to be an integer from 1 to 100000, but got '0'", cli::UsageError);
  CHECK(parse_cell_flags({"--threads", "1"}).epochs == 0);  // left out: each experiment's own
  CHECK(parse_cell_flags({"--threads", "1", "--epochs", "1"}).epochs == 1);
  CHECK(parse_cell_flags({"--threads", "1", "--only", "l2"}).only_flag == "l2");
}
