#include "alloc_counter.hpp"
#include "helpers.hpp"

#include <mlp/data/dataloader.hpp>
#include <mlp/detail/byte_lookup.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

namespace {

// 2 channels of 2 x 1 pixels; sample i has pixels (i, i+1, 100+i, 101+i) and label i % 3.
mlp::Dataset tiny_dataset(mlp::Index n) {
  mlp::Dataset d;
  d.name = "tiny";
  d.shape = {2, 2, 1};
  d.class_names = {"a", "b", "c"};
  d.pixels.resize(4, n);
  d.labels.resize(n);
  for (mlp::Index i = 0; i < n; ++i) {
    d.pixels.col(i) << static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i + 1),
        static_cast<std::uint8_t>(100 + i), static_cast<std::uint8_t>(101 + i);
    d.labels[i] = static_cast<int>(i % 3);
  }
  return d;
}

std::vector<mlp::Index> epoch_order(mlp::DataLoader<float>& loader, std::int64_t epoch) {
  std::vector<mlp::Index> order;
  loader.start_epoch(epoch);
  while (auto batch = loader.next()) {
    for (mlp::Index j = 0; j < batch->size(); ++j) order.push_back(static_cast<mlp::Index>(batch->x(0, j)));
  }
  return order;
}

}  // namespace

TEST_CASE("every sample appears exactly once per epoch and the order changes between epochs") {
  mlp::Matrix<float> x(1, 50);
  for (int i = 0; i < 50; ++i) x(0, i) = static_cast<float>(i);
  const mlp::Labels y = mlp::Labels::Zero(50);
  mlp::DataLoader<float> loader(x, y, {8, true, false, 42});
  CHECK(loader.batches_per_epoch() == 7);
  const auto e0 = epoch_order(loader, 0), e1 = epoch_order(loader, 1);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<mlp::Index> expected(50);
  std::iota(expected.begin(), expected.end(), mlp::Index{0});
  CHECK(sorted == expected);
  CHECK(e0 != e1);
  CHECK(e0 != expected);
  CHECK(epoch_order(loader, 0) == e0);  // the order is a function of (seed, epoch)
  mlp::DataLoader<float> same_seed(x, y, {8, true, false, 42});
  CHECK(epoch_order(same_seed, 1) == e1);
  mlp::DataLoader<float> other_seed(x, y, {8, true, false, 43});
  CHECK(epoch_order(other_seed, 1) != e1);
}

TEST_CASE("the last batch is partial unless drop_last; no shuffle keeps the order") {
  mlp::Matrix<float> x = mlp::Matrix<float>::Zero(1, 10);
  for (int i = 0; i < 10; ++i) x(0, i) = static_cast<float>(i);
  const mlp::Labels y = mlp::Labels::Zero(10);
  mlp::DataLoader<float> keep(x, y, {4, false, false, 1});
  std::vector<mlp::Index> sizes;
  keep.start_epoch(0);
  while (auto b = keep.next()) sizes.push_back(b->size());
  CHECK(sizes == std::vector<mlp::Index>{4, 4, 2});
  CHECK(epoch_order(keep, 3) == std::vector<mlp::Index>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  mlp::DataLoader<float> drop(x, y, {4, true, true, 1});
  CHECK(drop.batches_per_epoch() == 2);
  CHECK(epoch_order(drop, 0).size() == 8);
}

TEST_CASE("image batches are standardized per channel with the loader's lookup table") {
  const mlp::Dataset d = tiny_dataset(6);
  mlp::Standardizer st;
  st.pixels_per_channel = 2;
  st.mean = {0.1, 0.5};
  st.stddev = {0.2, 0.25};
  mlp::DataLoader<double> loader(d, {4, 1}, st, {8, false, false, 0});
  auto batch = loader.next();
  REQUIRE(batch);
  REQUIRE(batch->size() == 2);
  CHECK(batch->y[0] == 1);  // sample 4
  CHECK(batch->y[1] == 1);  // sample 1
  CHECK(batch->x(0, 0) == doctest::Approx((4 / 255.0 - 0.1) / 0.2));
  CHECK(batch->x(1, 0) == doctest::Approx((5 / 255.0 - 0.1) / 0.2));
  CHECK(batch->x(2, 0) == doctest::Approx((104 / 255.0 - 0.5) / 0.25));
  CHECK(batch->x(3, 1) == doctest::Approx((102 / 255.0 - 0.5) / 0.25));
  CHECK(!loader.next());
}

TEST_CASE("lookup_bytes copies the table's entries for every byte value and run length") {
  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) table[static_cast<std::size_t>(i)] = -1.5f + 0.37f * static_cast<float>(i);
  table[3] = -0.0f;  // bit patterns must come through as they are
  table[200] = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::uint8_t> bytes(300);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>((i * 149 + 7) % 256);
  constexpr float kGuard = 12345.0f;
  // Every length up to 70 (whole vectors of 16, tails of 4-byte groups, 1-3 odd bytes) from
  // offsets 0-3; the loop over lengths to 300 covers all 256 values.
  for (mlp::Index offset = 0; offset < 4; ++offset) {
    for (mlp::Index n = 0; n <= 296; n += n < 70 ? 1 : 29) {
      // The input ends at its last byte, so that AddressSanitizer sees any read past it.
      const std::vector<std::uint8_t> input(bytes.begin(), bytes.begin() + offset + n);
      std::vector<float> out(static_cast<std::size_t>(n) + 1, kGuard);
      mlp::detail::lookup_bytes(input.data() + offset, n, table.data(), out.data());
      bool same = true;
      for (mlp::Index i = 0; i < n; ++i) {
        const float want = table[bytes[static_cast<std::size_t>(offset + i)]];
        same = same && std::memcmp(&out[static_cast<std::size_t>(i)], &want, sizeof(float)) == 0;
      }
      INFO("offset ", offset, ", n ", n);
      CHECK(same);
      CHECK(out.back() == kGuard);  // nothing written past out[n - 1]
    }
  }
}

TEST_CASE("image batches hold the table's entries bit for bit, per channel, at 1 and 2 threads") {
  // 3 channels of 27 x 29 pixels (runs that end in every kind of tail), batches of 50 of 120
  // samples: at 2 threads the loader splits each batch into several column ranges.
  mlp::Dataset d;
  d.name = "rgb";
  d.shape = {3, 27, 29};
  d.class_names = {"a", "b"};
  const mlp::Index n = 120, rows = d.shape.channels * d.shape.pixels_per_channel();
  d.pixels.resize(rows, n);
  d.labels.resize(n);
  std::mt19937 gen(11);
  for (mlp::Index i = 0; i < n; ++i) {
    for (mlp::Index r = 0; r < rows; ++r) d.pixels(r, i) = static_cast<std::uint8_t>(gen() % 256);
    d.labels[i] = static_cast<int>(gen() % 2);
  }
  mlp::Standardizer st;
  st.pixels_per_channel = 27 * 29;
  st.mean = {0.1, 0.5, 0.3};
  st.stddev = {0.2, 0.25, 0.7};
  const std::vector<float> table = st.lookup_table<float>();
  std::vector<mlp::Index> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), mlp::Index{0});
  for (int threads : {1, 2}) {
    const mlp_test::ThreadCount scope(threads);
    mlp::DataLoader<float> loader(d, all, st, {50, true, false, 9});
    std::vector<mlp::Index> order = all;
    mlp::Rng rng(mlp::derive_seed(9, "shuffle", 0));
    mlp::shuffle(order, rng);
    loader.start_epoch(0);
    mlp::Index seen = 0;
    bool same = true;
    while (auto batch = loader.next()) {
      for (mlp::Index j = 0; j < batch->size(); ++j) {
        const mlp::Index sample = order[static_cast<std::size_t>(seen + j)];
        same = same && batch->y[j] == d.labels[sample];
        for (mlp::Index r = 0; r < rows; ++r) {
          const float want = table[static_cast<std::size_t>(r / st.pixels_per_channel * 256 + d.pixels(r, sample))];
          const float got = batch->x(r, j);
          same = same && std::memcmp(&got, &want, sizeof(float)) == 0;
        }
      }
      seen += batch->size();
    }
    INFO("threads ", threads);
    CHECK(same);
    CHECK(seen == n);
  }
}

TEST_CASE("iterating the loader allocates nothing after the first batch") {
  const mlp::Dataset d = tiny_dataset(200);
  std::vector<mlp::Index> all(200);
  std::iota(all.begin(), all.end(), mlp::Index{0});
  mlp::DataLoader<float> loader(d, all, mlp::Standardizer::unit_range(d.shape), {32, true, false, 5});
  loader.start_epoch(0);
  loader.next();
  mlp::Index seen = 0;
  const mlp_test::AllocationProbe probe;
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    while (auto b = loader.next()) seen += b->size();
  }
  const std::size_t allocations = probe.count();
  CHECK(allocations == 0);
  CHECK(seen == 600);
}

TEST_CASE("the loader validates its inputs") {
  const mlp::Dataset d = tiny_dataset(5);
  CHECK_THROWS_WITH_AS(mlp::DataLoader<float>(d, {0, 7}, mlp::Standardizer::unit_range(d.shape), {}),
                       "DataLoader: sample index 7 is out of range for 5 samples",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::DataLoader<float>(d, {0}, mlp::Standardizer::unit_range(d.shape), {0}),
                       "batch size has to be positive, but got 0", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::DataLoader<float>(d, {0}, mlp::Standardizer::unit_range({1, 2, 2}), {}),
                       doctest::Contains("the standardizer is for 1 channels"), mlp::InvalidArgument);
}

TEST_CASE("Standardizer statistics come from the given samples only and are exact") {
  mlp::Dataset d = tiny_dataset(4);
  const auto st = mlp::Standardizer::fit(d, {0, 1}, true);
  // Channel 0 pixels of samples 0 and 1: 0, 1, 1, 2 -> mean 1, var 0.5 (in bytes).
  CHECK(st.mean[0] == doctest::Approx(1.0 / 255.0));
  CHECK(st.stddev[0] == doctest::Approx(std::sqrt(0.5) / 255.0));
  CHECK(st.mean[1] == doctest::Approx(101.0 / 255.0));
  d.pixels.col(3).setConstant(255);  // a held-out sample changes nothing
  const auto again = mlp::Standardizer::fit(d, {0, 1}, true);
  CHECK(again.mean == st.mean);
  CHECK(again.stddev == st.stddev);
  const auto global = mlp::Standardizer::fit(d, {0, 1}, false);
  CHECK(global.mean[0] == global.mean[1]);
  CHECK(global.mean[0] == doctest::Approx(51.0 / 255.0));
  mlp::Dataset flat = tiny_dataset(2);
  flat.pixels.setConstant(7);
  CHECK_THROWS_WITH_AS(mlp::Standardizer::fit(flat, {0, 1}, false),
                       "tiny: the images have the same value (7) in every pixel of the 2 samples fitted on, so it cannot "
                       "be standardized (standard deviation 0)",
                       mlp::InvalidArgument);
  flat.pixels.row(0).setConstant(9);  // channel 0 (rows 0 and 1): 9 and 7; channel 1: 7 only
  CHECK_THROWS_WITH_AS(mlp::Standardizer::fit(flat, {0, 1}, true), doctest::Contains("tiny: channel 1 has the same value (7)"),
                       mlp::InvalidArgument);
}

TEST_CASE("data sets and standardizers that do not fit are refused before anything is read") {
  mlp::Dataset d = tiny_dataset(4);
  d.shape = {3, 2, 1};  // 6 values an image, but the images hold 4 (fit read past them)
  CHECK_THROWS_WITH_AS(mlp::Standardizer::fit(d, {0, 1}, true), "tiny: images have 4 values but the shape 3 x 2 x 1 needs 6",
                       mlp::InvalidArgument);
  d.shape = {-2, -2, 1};  // multiplies out to the 4 values
  CHECK_THROWS_WITH_AS(mlp::Standardizer::fit(d, {0, 1}, true),
                       "tiny: an image shape of -2 x -2 x 1 (channels x height x width; each has to be at least 1)",
                       mlp::InvalidArgument);

  // A table whose entries leave float's range (every input was -inf without a word).
  const mlp::Dataset ok = tiny_dataset(4);
  CHECK_THROWS_WITH_AS(mlp::DataLoader<float>(ok, {0}, mlp::Standardizer{2, {0.5, 0.5}, {1e-40, 1.0}}, {}),
                       doctest::Contains("Standardizer channel 0 (mean 0.5, standard deviation 1e-40) maps pixel values "
                                         "outside the range of float"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::Standardizer({2, {0.5, 0.5}, {-1.0, 1.0}}).validate(),
                       "Standardizer channel 0 has mean 0.5 and standard deviation -1 (both have to be finite, the "
                       "standard deviation positive)",
                       mlp::InvalidArgument);
  CHECK_NOTHROW(mlp::DataLoader<double>(ok, {0}, mlp::Standardizer{2, {0.5, 0.5}, {1e-40, 1.0}}, {}));  // in double's range
}

TEST_CASE("class_counts counts the samples it is given, checked") {
  const mlp::Dataset d = tiny_dataset(5);  // labels 0 1 2 0 1
  CHECK(d.class_counts() == std::vector<mlp::Index>{2, 2, 1});
  CHECK(d.class_counts({0, 3, 4}) == std::vector<mlp::Index>{2, 1, 0});
  CHECK(d.class_counts(std::vector<mlp::Index>{}) == std::vector<mlp::Index>{0, 0, 0});  // none, not all
  CHECK_THROWS_WITH_AS(d.class_counts({0, 1000}), "tiny: class_counts was given sample index 1000, out of range for 5 samples",
                       mlp::InvalidArgument);
}

TEST_CASE("skip_batches takes at most the batches of an epoch") {
  const mlp::Dataset d = tiny_dataset(5);
  mlp::DataLoader<float> loader(d, {0, 1, 2, 3, 4}, mlp::Standardizer::unit_range(d.shape), {2, false});
  loader.start_epoch(0);
  loader.skip_batches(2);
  const auto last = loader.next();
  REQUIRE(last.has_value());
  CHECK(last->size() == 1);
  loader.skip_batches(3);
  CHECK_FALSE(loader.next().has_value());
  CHECK_THROWS_WITH_AS(loader.skip_batches(4), "skip_batches needs a count from 0 to 3 (the batches of an epoch), but got 4",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(loader.skip_batches(mlp::Index{1} << 62), doctest::Contains("but got 4611686018427387904"),
                       mlp::InvalidArgument);
}
