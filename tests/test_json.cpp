#include "helpers.hpp"

#include <mlp_app/json.hpp>
#include <mlp_app/run_config.hpp>

TEST_CASE("JSON values write and read back") {
  mlp::app::Json j = mlp::app::Json::object();
  j["name"] = "a \"quoted\" \\ name\n";
  j["pi"] = 3.141592653589793;
  j["tiny"] = 1e-300;
  j["list"] = mlp::app::Json::array_of(std::vector<double>{1, 2.5, -3});
  j["nested"]["flag"] = true;
  j["nothing"] = mlp::app::Json();
  const mlp::app::Json back = mlp::app::Json::parse(j.dump(2));
  CHECK(back == j);
  CHECK(mlp::app::Json::parse(j.dump(0)) == j);
  CHECK(back.at("pi").number() == 3.141592653589793);
  CHECK(back.at("name").string() == "a \"quoted\" \\ name\n");
  CHECK(back.at("nested").at("flag").boolean());
  CHECK(std::isnan(back.at("nothing").number()));  // NaN is written as null and read back as NaN
}

TEST_CASE("the JSON parser follows the grammar and says where it failed") {
  CHECK_THROWS_WITH_AS(mlp::app::Json::parse("{\"a\": 1,}"), doctest::Contains("line 1, column 9: expected a member name"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::app::Json::parse("[1, 2"), doctest::Contains("expected ',' or ']'"), mlp::InvalidArgument);
  for (const char* bad : {"01", "1.", ".5", "+1", "0x10", "-inf", "nan", "1e", "1e999", "tru", "\"open"}) {
    INFO(bad);
    CHECK_THROWS_AS(mlp::app::Json::parse(bad), mlp::InvalidArgument);
  }
  CHECK(mlp::app::Json::parse("-0.5e-3").number() == -0.5e-3);
  CHECK(mlp::app::Json::parse("\"\\u00e9\"").string() == "\xc3\xa9");
  CHECK_THROWS_WITH_AS(mlp::app::Json::parse("[[[[").size(), doctest::Contains("unexpected end"), mlp::InvalidArgument);
}

TEST_CASE("JSON integers are range-checked before any conversion") {
  CHECK(mlp::app::Json(30.0).integer(1, 100) == 30);
  CHECK_THROWS_WITH_AS(mlp::app::Json(1e30).integer(1, 100), "JSON number 1e+30 is not a whole number from 1 to 100",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::app::Json(2.5).integer(1, 100), mlp::InvalidArgument);
  mlp::app::Json config = mlp::app::RunConfig().to_json();
  CHECK(mlp::app::RunConfig::from_json(config) == mlp::app::RunConfig());
  config["epochs"] = 1e300;
  CHECK_THROWS_WITH_AS(mlp::app::RunConfig::from_json(config), doctest::Contains("is not a whole number from 1 to 1000000"),
                       mlp::InvalidArgument);
}

// The thread count changes no bit of a run of this version, so it is not part of what a run is; a
// stored run of an older version (no bits_at_any_threads in its file) at 2 or more threads rounded
// differently, and matches no run of this version.
TEST_CASE("a run's configuration leaves out the thread count, except for an older version's run at 2+ threads") {
  using mlp::app::Json;
  using mlp::app::RunConfig;
  RunConfig one, two;
  two.threads = 2;
  CHECK(one == two);
  CHECK(one.difference(two).empty());
  CHECK(RunConfig::from_json(two.to_json()).threads == 2);
  CHECK(RunConfig::from_json(two.to_json()).bits_at_any_threads);
  two.precision = mlp::MatmulPrecision::BFloat16;
  CHECK(one != two);
  CHECK(two.difference(one) == "precision bf16 here, fp32 there");

  const auto older = [](int threads) {  // a config.json written before bits_at_any_threads existed
    RunConfig c;
    c.threads = threads;
    const Json all = c.to_json();
    Json j = Json::object();
    for (const auto& [key, value] : all.members()) {
      if (key != "bits_at_any_threads") j[key] = value;
    }
    return RunConfig::from_json(j);
  };
  CHECK_FALSE(older(2).bits_at_any_threads);
  CHECK(older(1) == RunConfig());  // one thread: the products of then and now are the same bits
  RunConfig now_two;
  now_two.threads = 2;
  CHECK(older(1) == now_two);
  CHECK(older(2) != now_two);
  CHECK(older(2) != RunConfig());
  CHECK(older(2) == older(2));
  CHECK(now_two.difference(older(2)) ==
        "threads 2 there in a run of an older version, whose results may depend on the thread count: no run of this "
        "version matches it");
  CHECK(older(3).difference(RunConfig()) ==
        "threads 3 here in a run of an older version, whose results may depend on the thread count: no run of this "
        "version matches it");
}
