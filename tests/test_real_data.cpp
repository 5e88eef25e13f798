// Reads the real FashionMNIST (Debian's dataset-fashion-mnist package, which CI installs) and
// checks what is known about it. This test fails, by design, when the data is not installed.
#include "helpers.hpp"

#include <mlp/data/locate.hpp>
#include <mlp/data/prepared.hpp>

TEST_CASE("real FashionMNIST: counts, label histograms, first labels, split and statistics") {
  const auto dir = mlp::locate_dataset(mlp::DatasetKind::FashionMnist);
  const mlp::PreparedData p = mlp::prepare_data(mlp::DatasetKind::FashionMnist, dir, 10000, 42);
  const auto& train = p.data.train;
  const auto& test = p.data.test;
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.shape == mlp::ImageShape{1, 28, 28});
  CHECK(train.class_counts() == std::vector<mlp::Index>(10, 6000));
  CHECK(test.class_counts() == std::vector<mlp::Index>(10, 1000));
  CHECK(train.labels.head(10) == (mlp::Labels(10) << 9, 0, 0, 3, 0, 2, 7, 2, 5, 5).finished());
  CHECK(test.labels.head(5) == (mlp::Labels(5) << 9, 2, 1, 1, 6).finished());
  CHECK(train.pixels.col(0).cast<int>().sum() == 76247);  // the first image, an ankle boot
  // The protocol's split: 50,000 / 10,000 with 1,000 validation images per class, seed 42.
  CHECK(p.split.train.size() == 50000);
  CHECK(train.class_counts(p.split.validation) == std::vector<mlp::Index>(10, 1000));
  // Pinned: if this changes, every experiment's split changed with it.
  CHECK(p.split.fingerprint_hex() == "ac3ef0d9");
  // Pinned too: the images and labels of Debian's dataset-fashion-mnist, training then test.
  CHECK(p.data_fingerprint_hex() == "3d116f37");
  CHECK(p.standardizer.mean[0] == doctest::Approx(0.286).epsilon(0.005));
  CHECK(p.standardizer.stddev[0] == doctest::Approx(0.353).epsilon(0.005));
}
