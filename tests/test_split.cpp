#include "helpers.hpp"

#include <mlp/data/split.hpp>

#include <algorithm>
#include <set>

namespace {

mlp::Labels cyclic_labels(mlp::Index n, int classes) {
  mlp::Labels y(n);
  for (mlp::Index i = 0; i < n; ++i) y[i] = static_cast<int>(i % classes);
  return y;
}

}  // namespace

TEST_CASE("stratified split gives every class its share and covers every sample once") {
  const mlp::Labels y = cyclic_labels(6000, 10);
  const mlp::Split s = mlp::stratified_split(y, 10, 1000, 42);
  CHECK(s.train.size() == 5000);
  CHECK(s.validation.size() == 1000);
  std::vector<int> per_class(10, 0);
  for (mlp::Index i : s.validation) ++per_class[static_cast<std::size_t>(y[i])];
  for (int c : per_class) CHECK(c == 100);
  std::vector<mlp::Index> all = s.train;
  all.insert(all.end(), s.validation.begin(), s.validation.end());
  std::sort(all.begin(), all.end());
  for (mlp::Index i = 0; i < 6000; ++i) REQUIRE(all[static_cast<std::size_t>(i)] == i);
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));
}

TEST_CASE("the split and its fingerprint depend on the seed only") {
  const mlp::Labels y = cyclic_labels(500, 5);
  const mlp::Split a = mlp::stratified_split(y, 5, 100, 42);
  const mlp::Split b = mlp::stratified_split(y, 5, 100, 42);
  const mlp::Split c = mlp::stratified_split(y, 5, 100, 43);
  CHECK(a.validation == b.validation);
  CHECK(a.fingerprint == b.fingerprint);
  CHECK(a.validation != c.validation);
  CHECK(a.fingerprint != c.fingerprint);
  CHECK(a.fingerprint == mlp::split_fingerprint(a.train, a.validation));
  CHECK(a.fingerprint_hex().size() == 8);
}

TEST_CASE("imbalanced classes get proportional shares that add up exactly") {
  mlp::Labels y(100);
  for (mlp::Index i = 0; i < 100; ++i) y[i] = i < 70 ? 0 : (i < 95 ? 1 : 2);  // 70 / 25 / 5
  const mlp::Split s = mlp::stratified_split(y, 3, 30, 1);
  std::vector<int> per_class(3, 0);
  for (mlp::Index i : s.validation) ++per_class[static_cast<std::size_t>(y[i])];
  CHECK(s.validation.size() == 30);
  CHECK(per_class[0] == 21);
  // 21 + 7.5 + 1.5: the floors give 29, the one left goes to the largest remainder; on a tie
  // (0.5 and 0.5) the lower class id wins.
  CHECK(per_class[1] == 8);
  CHECK(per_class[2] == 1);
  CHECK(mlp::stratified_split(y, 3, 0, 1).validation.empty());
}

TEST_CASE("split arguments are validated") {
  const mlp::Labels y = cyclic_labels(10, 2);
  CHECK_THROWS_WITH_AS(mlp::stratified_split(y, 2, 11, 1),
                       "validation size 11 is not between 0 and the 10 samples",
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::stratified_split(y, 1, 2, 1), doctest::Contains("label 1 at index 1"),
                       mlp::InvalidArgument);
}
