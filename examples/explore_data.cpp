// explore_data: the facts about a data set that a student is asked to report, and a picture of it.
//
//   explore_data [--data DIR] [--dataset fashion-mnist|mnist|cifar10] [--out DIR]
//
// Prints image counts per split, image size, channels, pixel range and type, mean and standard
// deviation, class names and class counts per split; writes <out>/samples.png.
#include "common/cli.hpp"
#include "common/data_facts.hpp"

#include <mlp/data/locate.hpp>
#include <mlp/data/prepared.hpp>
#include <mlp/io/atomic_file.hpp>
#include <mlp_app/sample_grid.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  return cli::run("explore_data", [&] {
    cxxopts::Options options("explore_data", "Facts and sample images of an image data set");
    options.add_options()
      ("data", "folder with the data files (default: search $MLP_DATA, ./data/<dataset>, "
               "/usr/share/datasets/<dataset>)", cxxopts::value<std::string>())
      ("dataset", "fashion-mnist, mnist or cifar10",
       cxxopts::value<std::string>()->default_value("fashion-mnist"))
      ("out", "folder for samples.png", cxxopts::value<std::string>()->default_value("runs"))
      ("validation", "validation images carved out of the training set",
       cxxopts::value<std::string>()->default_value("10000"))
      ("seed", "seed of the validation split", cxxopts::value<std::string>()->default_value("42"))
      ("per-class", "sample images per class in samples.png (1-100)",
       cxxopts::value<std::string>()->default_value("10"))
      ("scale", "enlargement of each image in samples.png (1-16)",
       cxxopts::value<std::string>()->default_value("3"))
      ("h,help", "print this help");
    const auto parsed = cli::parse_flags(options, argc, argv);
    if (!parsed) return 0;
    const cxxopts::ParseResult& flags = *parsed;
    const auto per_class = static_cast<int>(cli::int_flag(flags, "per-class", 1, 100));
    const auto scale = static_cast<int>(cli::int_flag(flags, "scale", 1, 16));
    const auto validation = cli::int_flag(flags, "validation", 0, 1000000000);
    const auto seed = static_cast<std::uint64_t>(cli::int_flag(flags, "seed", 0, INT64_MAX));

    const auto kind = mlp::parse_dataset_kind(flags["dataset"].as<std::string>());
    const auto dir = mlp::locate_dataset(kind, cli::text_flag(flags, "data"));
    const std::filesystem::path out = flags["out"].as<std::string>();
    mlp::ensure_directory(out);  // (before the data is read: a bad --out fails at once)
    const auto start = std::chrono::steady_clock::now();
    const mlp::PreparedData prepared = cli::prepare_with_validation(flags, kind, dir, validation, seed);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cli::print_data_facts(std::cout, prepared);
    std::printf("  loaded, split and standardized in %.2f s\n", seconds);

    const auto grid = mlp::app::make_sample_grid(prepared.data.train, prepared.split.train, per_class, scale);
    mlp::app::write_png(out / "samples.png", grid);
    std::printf("wrote %s (%d x %d pixels: %lld classes x %d training images, %dx enlarged)\n",
                (out / "samples.png").string().c_str(), grid.width, grid.height,
                static_cast<long long>(prepared.data.train.classes()), per_class, scale);
    // A class with fewer training images than asked for has a shorter row (or none): say which.
    const auto& train = prepared.data.train;
    const std::vector<mlp::Index> count = train.class_counts(prepared.split.train);
    std::string short_rows;
    for (std::size_t c = 0; c < count.size(); ++c) {
      if (count[c] >= per_class) continue;
      short_rows += std::string(short_rows.empty() ? "" : ", ") + train.class_names[c] + " " + std::to_string(count[c]);
    }
    if (!short_rows.empty()) {
      std::printf("  note: fewer than %d training images of: %s (their rows are shorter)\n", per_class, short_rows.c_str());
    }
    return 0;
  });
}
