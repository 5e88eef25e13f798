// The parallel paths: Conv2d's per-worker chunks, BatchNorm2d's channels, the pools, the fp32 and bf16
// products and the optimizers, run by the Trainer at 2 threads. Training gives the same bits at 1, 2
// and 3 threads, and with the Trainer's thread governor switching between counts. Built with OpenMP
// (without it there is one thread and these tests check only determinism); the tsan preset runs them
// under ThreadSanitizer.
#include "helpers.hpp"

#include <mlp/mlp.hpp>

#include <doctest/doctest.h>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using mlp::Index;
using mlp::Shape;
using mlp::Size2;

using mlp_test::ThreadCount;

mlp::Sequential<float> thread_cnn(std::uint64_t seed) {
  mlp::Rng rng(seed);
  mlp::Sequential<float> model(Shape{1, 12, 12});
  model.emplace<mlp::Conv2d<float>>(1, 8, 3, rng, mlp::Conv2dOptions{1, 1});
  model.emplace<mlp::BatchNorm2d<float>>(8);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::MaxPool2d<float>>(2);
  model.emplace<mlp::Conv2d<float>>(8, 8, 3, rng, mlp::Conv2dOptions{1, 1});
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::AvgPool2d<float>>(2);
  model.emplace<mlp::Flatten<float>>();
  model.emplace<mlp::Linear<float>>(72, 24, rng);
  model.emplace<mlp::BatchNorm1d<float>>(24);
  model.emplace<mlp::ReLU<float>>();
  model.emplace<mlp::Dropout<float>>(0.2, rng.next_u64());
  model.emplace<mlp::Linear<float>>(24, 3, rng);
  return model;
}

struct TrainedRun {
  std::vector<float> parameters;
  std::vector<double> losses;
};

// Three epochs of Adam on blobs, with validation, at `threads` threads.
TrainedRun train_cnn(int threads, mlp::MatmulPrecision precision, bool fuse_relu = true) {
  const ThreadCount scope(threads);
  const mlp_test::Blobs train = mlp_test::make_blobs(300, 144, 3, 7, 2.0f);
  const mlp_test::Blobs val = mlp_test::make_blobs(90, 144, 3, 8, 2.0f);
  mlp::Sequential<float> model = thread_cnn(5);
  model.set_matmul_precision(precision);
  model.set_fuse_relu(fuse_relu);
  mlp::Adam<float> adam(model.parameters(), {2e-3});
  mlp::Trainer<float> trainer(model, adam);
  mlp::DataLoader<float> train_loader(train.x, train.y, {64, true, false, 3});
  mlp::DataLoader<float> val_loader(val.x, val.y, {45, false, false, 0});
  const mlp::History history = trainer.fit(train_loader, &val_loader, 3);
  TrainedRun run;
  for (const auto& epoch : history.epochs) {
    run.losses.push_back(epoch.train_loss);
    run.losses.push_back(epoch.val_loss);
  }
  for (auto& p : model.parameters()) {
    const auto values = p.value_map();
    run.parameters.insert(run.parameters.end(), values.data(), values.data() + values.size());
  }
  return run;
}

}  // namespace

TEST_CASE("threads: for_each_item_chunk runs every chunk once, large items split, small ones whole on one thread") {
  // Items of 0, 5, 4 chunks + 3, 100, 9 chunks and 1 element, chunks of 16.
  const std::vector<Index> sizes{0, 5, 4 * 16 + 3, 100, 9 * 16, 1};
  const auto size_of = [&](std::size_t i) { return sizes[i]; };
  struct Call {
    std::size_t item;
    Index begin, end;
    int thread;
  };
  for (int threads : {1, 2, 3}) {
    const ThreadCount scope(threads);
    std::vector<std::vector<Call>> by_thread(4);
    mlp::detail::for_each_item_chunk(sizes.size(), size_of, 16, [&](std::size_t item, Index begin, Index end) {
      int thread = 0;
#ifdef _OPENMP
      thread = omp_get_thread_num();
#endif
      by_thread[static_cast<std::size_t>(thread)].push_back({item, begin, end, thread});
    });
    // Every chunk exactly once, each thread's calls in item and chunk order.
    std::vector<std::vector<Index>> begins(sizes.size());
    for (const auto& calls : by_thread) {
      for (std::size_t k = 0; k < calls.size(); ++k) {
        const Call& c = calls[k];
        CHECK(c.begin % 16 == 0);
        CHECK(c.end == std::min(sizes[c.item], c.begin + 16));
        if (k > 0) CHECK((calls[k - 1].item < c.item || (calls[k - 1].item == c.item && calls[k - 1].end == c.begin)));
        begins[c.item].push_back(c.begin);
      }
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::sort(begins[i].begin(), begins[i].end());
      const Index chunks = (sizes[i] + 15) / 16;
      REQUIRE(static_cast<Index>(begins[i].size()) == chunks);
      for (Index c = 0; c < chunks; ++c) CHECK(begins[i][static_cast<std::size_t>(c)] == 16 * c);
    }
#ifdef _OPENMP
    const auto thread_of = [&](std::size_t item, Index begin) {
      for (const auto& calls : by_thread) {
        for (const Call& c : calls) {
          if (c.item == item && c.begin == begin) return c.thread;
        }
      }
      return -1;
    };
    INFO("threads ", threads);
    if (threads == 1) {
      CHECK(by_thread[0].size() == 1 + 5 + 7 + 9 + 1);
    } else if (threads == 2) {
      // Small items (fewer than 4 chunks) take turns: 0 (no chunks) on thread 0, 5 elements on thread 1,
      // 4 chunks + 3 (5 chunks) is split 2 + 3, 100 elements (7 chunks) 3 + 4, 9 chunks 4 + 5, and
      // the last small item (1 element) goes to thread 0.
      CHECK(thread_of(1, 0) == 1);
      for (Index c = 0; c < 5; ++c) CHECK(thread_of(2, 16 * c) == (c < 2 ? 0 : 1));
      for (Index c = 0; c < 7; ++c) CHECK(thread_of(3, 16 * c) == (c < 3 ? 0 : 1));
      for (Index c = 0; c < 9; ++c) CHECK(thread_of(4, 16 * c) == (c < 4 ? 0 : 1));
      CHECK(thread_of(5, 0) == 0);
    } else {
      // 3 threads: items of 6 chunks or more are split in thirds (100 elements: 2 + 2 + 3, 9 chunks:
      // 3 + 3 + 3); the smaller ones run whole, in turns (0 chunks, 5 elements, 5 chunks, 1 element).
      CHECK(thread_of(1, 0) == 1);
      for (Index c = 0; c < 5; ++c) CHECK(thread_of(2, 16 * c) == 2);
      for (Index c = 0; c < 7; ++c) CHECK(thread_of(3, 16 * c) == (c < 2 ? 0 : c < 4 ? 1 : 2));
      for (Index c = 0; c < 9; ++c) CHECK(thread_of(4, 16 * c) == static_cast<int>(c / 3));
      CHECK(thread_of(5, 0) == 0);
    }
#endif
  }
  // With fewer chunks than 2 per thread, and inside a parallel region of the caller's own, everything
  // runs on the calling thread.
  const ThreadCount scope(2);
  int calls = 0;
  mlp::detail::for_each_item_chunk(1, [](std::size_t) { return Index{40}; }, 16, [&](std::size_t, Index, Index) {
#ifdef _OPENMP
    CHECK(omp_get_thread_num() == 0);
#endif
    ++calls;
  });
  CHECK(calls == 3);
#ifdef _OPENMP
  int inside = 0, team = 1;
#pragma omp parallel num_threads(2) reduction(+ : inside)
  {
#pragma omp single
    team = omp_get_num_threads();
    const int me = omp_get_thread_num();
    mlp::detail::for_each_item_chunk(sizes.size(), size_of, 16, [&](std::size_t, Index, Index) {
      if (omp_get_thread_num() == me) ++inside;
    });
  }
  CHECK(inside == team * (1 + 5 + 7 + 9 + 1));
#endif
}

TEST_CASE("threads: a CNN trained at 1, 2 and 3 threads gives the same bits") {
  for (const auto precision : {mlp::MatmulPrecision::Float32, mlp::MatmulPrecision::BFloat16}) {
    INFO(mlp::to_string(precision));
    const TrainedRun a = train_cnn(2, precision);
    CHECK(a.losses.size() == 6);
    for (const int threads : {2, 1, 3}) {
      const TrainedRun b = train_cnn(threads, precision);
      CHECK(a.losses == b.losses);
      CHECK(a.parameters == b.parameters);
    }
  }
}

TEST_CASE("threads: the CNN with its ReLUs fused into the BatchNorms gives the bits of the unfused one at 2 threads") {
  const TrainedRun fused = train_cnn(2, mlp::MatmulPrecision::Float32, true);
  const TrainedRun plain = train_cnn(2, mlp::MatmulPrecision::Float32, false);
  CHECK(fused.losses == plain.losses);
  CHECK(fused.parameters == plain.parameters);
}

TEST_CASE("threads: Conv2d, BatchNorm2d and the pools give the same bits at 1 and 2 threads") {
  mlp::Rng rng(3);
  mlp::Sequential<float> model(Shape{3, 10, 9});
  auto& conv = model.emplace<mlp::Conv2d<float>>(3, 6, Size2{3, 2}, rng, mlp::Conv2dOptions{{2, 1}, {1, 0}});
  model.emplace<mlp::BatchNorm2d<float>>(6);
  model.emplace<mlp::MaxPool2d<float>>(2);
  model.emplace<mlp::AvgPool2d<float>>(Size2{1, 2});
  model.set_input_grad(true);
  const std::pair<mlp::MatmulPrecision, mlp::ConvMethod> configs[] = {
      {mlp::MatmulPrecision::Float32, mlp::ConvMethod::Lowered},
      {mlp::MatmulPrecision::Float32, mlp::ConvMethod::PerSample},
      {mlp::MatmulPrecision::BFloat16, mlp::ConvMethod::Auto}};
  for (const auto& config : configs) {
    const mlp::MatmulPrecision precision = config.first;  // named copies: clang 14 cannot capture bindings
    const mlp::ConvMethod method = config.second;
    conv.set_method(method);
    model.set_matmul_precision(precision);
    CHECK(conv.method() == (method == mlp::ConvMethod::PerSample ? method : mlp::ConvMethod::Lowered));
    for (const Index batch : {Index{37}, Index{1}}) {
      INFO(mlp::to_string(precision), ", ", conv.method() == mlp::ConvMethod::PerSample ? "per sample" : "lowered",
           ", batch ", batch);
      const mlp::Matrix<float> x = mlp_test::random_matrix<float>(3 * 10 * 9, batch, 11);
      std::vector<mlp::Matrix<float>> outputs;
      std::vector<mlp::Matrix<float>> input_grads;
      std::vector<std::vector<float>> grads;
      for (const int threads : {1, 2}) {
        const ThreadCount scope(threads);
        const mlp::Matrix<float> y = model.forward(x, mlp::Mode::Train);
        outputs.push_back(y);
        input_grads.push_back(model.backward(y));
        std::vector<float> g;
        for (auto& p : model.parameters()) {
          const auto values = p.grad_map();
          g.insert(g.end(), values.data(), values.data() + values.size());
        }
        grads.push_back(g);
      }
      CHECK(outputs[0] == outputs[1]);
      CHECK(input_grads[0] == input_grads[1]);
      CHECK(grads[0] == grads[1]);
    }
  }
}

// The activations and Dropout split large matrices into ranges of columns on the threads. Each column
// must come out exactly as from one Eigen pass over the whole matrix (a split that moved an element
// between Eigen's vectorized and scalar paths could change its rounding in some builds): 1003 rows
// (not a multiple of the vector width) by 131 columns make 9 ranges, and the input is strided (a
// block of a taller matrix), as a layer's input may be. Dropout's mask, drawn in 8 ranges, must be
// the generator's sequential draws, the last of an odd count included.
TEST_CASE("threads: activations and Dropout give the bits of one whole-matrix pass at 1, 2 and 3 threads") {
  const mlp::Matrix<float> tall = mlp_test::random_matrix<float>(1010, 131, 21, -4.0, 4.0);
  const Eigen::Ref<const mlp::Matrix<float>> x = tall.topRows(1003);
  const mlp::Matrix<float> dy_values = mlp_test::random_matrix<float>(1003, 131, 22);
  const Eigen::Ref<const mlp::Matrix<float>> dy = dy_values;  // strided, as a layer sees it
  struct Expected {
    std::unique_ptr<mlp::Layer<float>> layer;
    mlp::Matrix<float> y, dx;
  };
  std::vector<Expected> cases;
  const auto add = [&](std::unique_ptr<mlp::Layer<float>> layer, const mlp::Matrix<float>& y, const mlp::Matrix<float>& dx) {
    cases.push_back({std::move(layer), y, dx});
  };
  {
    const mlp::Matrix<float> y = x.array().max(0.0F).matrix();
    add(std::make_unique<mlp::ReLU<float>>(), y, (y.array() > 0.0F).select(dy.array(), 0.0F).matrix());
  }
  {
    const mlp::Matrix<float> y = (x.array() > 0.0F).select(x.array(), 0.1F * x.array()).matrix();
    add(std::make_unique<mlp::LeakyReLU<float>>(0.1), y,
        (y.array() > 0.0F).select(dy.array(), 0.1F * dy.array()).matrix());
  }
  {
    const mlp::Matrix<float> y = x.array().logistic().matrix();
    add(std::make_unique<mlp::Sigmoid<float>>(), y, (dy.array() * y.array() * (1.0F - y.array())).matrix());
  }
  {
    const mlp::Matrix<float> y = x.array().tanh().matrix();
    add(std::make_unique<mlp::Tanh<float>>(), y, (dy.array() * (1.0F - y.array().square())).matrix());
  }
  for (auto& c : cases) {
    INFO(c.layer->describe());
    c.layer->bind(Shape::flat(1003));
    for (const int threads : {1, 2, 3}) {
      INFO(threads, " threads");
      const ThreadCount scope(threads);
      CHECK(mlp_test::same_bits(c.layer->forward(x, mlp::Mode::Train), c.y));
      CHECK(mlp_test::same_bits(c.layer->backward(dy), c.dx));
    }
  }
  std::vector<mlp::Matrix<float>> outputs;
  for (const int threads : {1, 2, 3}) {
    const ThreadCount scope(threads);
    mlp::Dropout<float> dropout(0.3, 5);
    dropout.bind(Shape::flat(1003));
    outputs.push_back(dropout.forward(x, mlp::Mode::Train));
    outputs.push_back(dropout.backward(dy));
    // two draws per next_u64, element by element in memory order; the odd last one uses half a draw
    mlp::Rng reference(5);
    const auto threshold = static_cast<std::uint64_t>(std::ldexp(0.7, 32));
    const float* mask = dropout.mask().data();
    Index wrong = 0;
    for (Index i = 0; i < dropout.mask().size(); i += 2) {
      const std::uint64_t bits = reference.next_u64();
      wrong += (mask[i] != 0.0F) != ((bits & 0xffffffffULL) < threshold);
      if (i + 1 < dropout.mask().size()) wrong += (mask[i + 1] != 0.0F) != ((bits >> 32) < threshold);
    }
    CHECK(dropout.mask().size() % 2 == 1);
    CHECK(wrong == 0);
    CHECK(dropout.random_state() == reference.state());
  }
  for (std::size_t i = 2; i < outputs.size(); ++i) CHECK(mlp_test::same_bits(outputs[i], outputs[i % 2]));
}

// One sample is one chunk, so its products run on the threads themselves (10 MFLOP, more than the
// products' thresholds for threads): fp32 and bf16 alike give the same bits at 1 and 2 threads.
TEST_CASE("threads: a Conv2d on a single sample gives the same bits at 1 and 2 threads") {
  for (const auto precision : {mlp::MatmulPrecision::Float32, mlp::MatmulPrecision::BFloat16}) {
    INFO(mlp::to_string(precision));
    mlp::Rng rng(4);
    mlp::Conv2d<float> conv(32, 32, 3, rng, mlp::Conv2dOptions{1, 1});
    conv.bind(Shape{32, 24, 24});
    conv.set_input_grad(true);
    conv.set_matmul_precision(precision);
    const mlp::Matrix<float> x = mlp_test::random_matrix<float>(32 * 24 * 24, 1, 12);
    std::vector<mlp::Matrix<float>> results;
    for (const int threads : {1, 2}) {
      const ThreadCount scope(threads);
      const mlp::Matrix<float> y = conv.forward(x, mlp::Mode::Train);
      results.push_back(y);
      results.push_back(conv.backward(y));
      results.push_back(conv.weight_grad());
    }
    CHECK(results[0] == results[3]);
    CHECK(results[1] == results[4]);
    CHECK(results[2] == results[5]);
  }
}

TEST_CASE("threads: an MLP trained by the Trainer gives the same bits at 1, 2 and 3 threads") {
  auto run = [](int threads) {
    const ThreadCount scope(threads);
    const mlp_test::Blobs train = mlp_test::make_blobs(600, 64, 4, 2, 1.5f);
    mlp::MlpSpec spec;
    spec.inputs = 64;
    spec.hidden = {96, 48};
    spec.classes = 4;
    spec.batch_norm = true;
    spec.dropout = 0.1;
    mlp::ParameterizedMLP<float> model(spec, 9);
    mlp::AdamW<float> adamw(model.parameters(), {1e-3});
    mlp::Trainer<float> trainer(model, adamw);
    mlp::DataLoader<float> loader(train.x, train.y, {100, true, false, 4});
    const mlp::History history = trainer.fit(loader, nullptr, 2);
    std::vector<float> values;
    for (auto& p : model.parameters()) {
      const auto v = p.value_map();
      values.insert(values.end(), v.data(), v.data() + v.size());
    }
    values.push_back(static_cast<float>(history.epochs.back().train_loss));
    return values;
  };
  const std::vector<float> two = run(2);
  CHECK(two == run(2));
  CHECK(two == run(1));
  CHECK(two == run(3));
}

// A step whose thread count changes from step to step (as the governor does under load) gives
// what a fixed count gives.
TEST_CASE("threads: training with the thread count changing every step gives the same bits") {
  auto run = [](bool alternate) {
    const ThreadCount scope(2);
    const mlp_test::Blobs train = mlp_test::make_blobs(400, 144, 3, 7, 2.0f);
    mlp::Sequential<float> model = thread_cnn(6);
    mlp::Adam<float> adam(model.parameters(), {2e-3});
    mlp::TrainerOptions options;
    options.adapt_threads = false;
    mlp::Trainer<float> trainer(model, adam, options);
    mlp::DataLoader<float> loader(train.x, train.y, {50, true, false, 3});
    loader.start_epoch(0);
    int step = 0;
    while (auto batch = loader.next()) {
      const mlp::ThreadLimit limit(alternate && step++ % 2 == 1 ? 1 : 2);
      trainer.train_step(*batch);
    }
    std::vector<float> values;
    for (auto& p : model.parameters()) {
      const auto v = p.value_map();
      values.insert(values.end(), v.data(), v.data() + v.size());
    }
    return values;
  };
  CHECK(run(false) == run(true));
}

namespace {

struct Fed {
  double seconds = 0.0;  // total time of the steps
  int on_one = 0;        // steps run on 1 thread
};

// Feeds a governor steps that take `one` seconds on 1 thread and `most` on its count.
Fed feed(mlp::ThreadGovernor& g, int steps, double one, double most) {
  Fed fed;
  for (int i = 0; i < steps; ++i) {
    const double t = g.threads() == 1 ? one : most;
    fed.seconds += t;
    fed.on_one += g.threads() == 1 ? 1 : 0;
    g.record(t);
  }
  return fed;
}

// Feeds 12 steps that take `one` seconds on 1 thread and `usual` on 2, but for the first step on 2,
// which takes `slow` (a moment the host was slow).
void feed_one_slow_step(mlp::ThreadGovernor& g, double one, double slow, double usual) {
  bool first = true;
  for (int i = 0; i < 12; ++i) {
    const double t = g.threads() == 1 ? one : first ? slow : usual;
    first = false;
    g.record(t);
  }
}

// Feeds steps of `one` seconds while the governor stays on 1 thread (up to `most` steps): how many.
int steps_on_one(mlp::ThreadGovernor& g, double one, int most) {
  int steps = 0;
  for (; g.threads() == 1 && steps < most; ++steps) g.record(one);
  return steps;
}

}  // namespace

TEST_CASE("thread governor: stays on 2 threads while they are faster, and comparing costs little") {
  mlp::ThreadGovernor g(2);
  CHECK(g.threads() == 2);
  const Fed fed = feed(g, 5000, 1.0, 0.6);
  CHECK(g.chosen() == 2);
  CHECK(g.switches() == 0);
  CHECK(g.comparisons() >= 3);
  CHECK(fed.seconds < 1.03 * 5000 * 0.6);  // within 3% of always running on 2 threads
}

TEST_CASE("thread governor: drops to 1 thread when 2 are much slower (a core is taken), and comes back") {
  mlp::ThreadGovernor g(2);
  feed(g, 20, 1.0, 50.0);  // another process holds a core: 2 threads wait for each other
  CHECK(g.chosen() == 1);
  CHECK(g.switches() == 1);
  const Fed loaded = feed(g, 5000, 1.0, 50.0);
  CHECK(g.chosen() == 1);
  CHECK(loaded.seconds < 1.05 * 5000);  // trying 2 threads now and then costs under 5%
  CHECK(loaded.on_one >= 4990);         // each try gives up after one step
  feed(g, 3000, 1.0, 0.6);  // the core is free again: a later comparison finds it
  CHECK(g.chosen() == 2);
  CHECK(g.switches() == 2);
}

TEST_CASE("thread governor: with a core taken from the start, 1 thread is taken after 4 steps on 2") {
  // Under benchmarks/bench_contention.sh L's 2-thread steps take about 7 times its 1-thread ones.
  // 1 warm-up step and 3 measured, then the trial on 1 thread: it takes under half of each of those
  // 3 steps, so it is taken without measuring 2 threads again (the governor before took 5 steps
  // before the trial, and 4 after it).
  mlp::ThreadGovernor g(2);
  int on_two = 0;
  for (int i = 0; i < 40 && g.switches() == 0; ++i) {
    on_two += g.threads() == 2 ? 1 : 0;
    g.record(g.threads() == 1 ? 1.0 : 7.0);
  }
  CHECK(g.chosen() == 1);
  CHECK(g.comparisons() == 1);
  CHECK(on_two == 4);
  // The next comparison tries 2 threads, whose step costs 7: it comes only after the steps on 1
  // thread took 50 times that, not 50 times the trial's 3 + 1 steps (as it did before).
  const int on_one = steps_on_one(g, 1.0, 1000);
  CHECK(on_one >= 350);
  CHECK(on_one < 400);
  // Only one slow step of the 3 (the mean is over twice the trial's, the fastest step is not):
  // 2 threads are measured again before a switch, and kept.
  mlp::ThreadGovernor h(2);
  feed(h, 3000, 1.0, 0.6);
  REQUIRE(h.chosen() == 2);
  REQUIRE(h.threads() == 2);
  const int before = h.comparisons();
  feed_one_slow_step(h, 0.9, 5.0, 0.6);
  CHECK(h.comparisons() == before + 1);
  CHECK(h.switches() == 0);
  CHECK(h.chosen() == 2);
}

TEST_CASE("thread governor: one very slow step while 2 threads are measured again does not hold 1 thread for long") {
  // Load arrives (2 threads now take 3.0, 1 thread 1.0): a comparison, then the check on 2 threads,
  // where one step takes 300 (the host stopped the process). 1 thread is taken (its 1.0 is under 90%
  // of the check's mean), and the next try of 2 threads is due after 50 times the trial's 3 + 1
  // steps (200 steps of 1.0), not 50 times that mean (about 5,000).
  mlp::ThreadGovernor g(2);
  feed(g, 3000, 1.0, 0.6);
  REQUIRE(g.chosen() == 2);
  REQUIRE(g.threads() == 2);
  bool tried = false;
  int checked = 0;
  for (int i = 0; i < 40 && g.switches() == 0; ++i) {
    if (g.threads() == 1) {
      tried = true;
      g.record(1.0);
    } else {
      checked += tried ? 1 : 0;
      g.record(checked == 3 ? 300.0 : 3.0);
    }
  }
  REQUIRE(g.switches() == 1);
  CHECK(checked == 4);
  CHECK(steps_on_one(g, 1.0, 10000) < 300);
}

TEST_CASE("thread governor: a sudden slowdown on 2 threads starts a comparison at once") {
  mlp::ThreadGovernor g(2);
  feed(g, 3000, 1.0, 0.6);  // long quiet run: comparisons are rare by now
  CHECK(g.chosen() == 2);
  const int before = g.comparisons();
  feed(g, 16, 1.0, 3.0);  // load arrives: within a few steps it compares, and drops to 1 thread
  CHECK(g.comparisons() == before + 1);
  CHECK(g.chosen() == 1);
}

TEST_CASE("thread governor: a slow moment on 2 threads that has passed by the end of the trial does not switch") {
  mlp::ThreadGovernor g(2);
  feed(g, 3000, 1.0, 0.6);
  REQUIRE(g.chosen() == 2);
  const int before = g.comparisons();
  // One step on 2 threads takes 3.0 (the host was slow for a moment): the mean of the last 3 steps
  // is over 1.5 times what it was, which starts a comparison at once. 1 thread takes 1.0 in the
  // trial, less than 90% of that mean, but 2 threads, measured again after the trial, take 0.6 as
  // before: no switch.
  feed_one_slow_step(g, 1.0, 3.0, 0.6);
  CHECK(g.comparisons() == before + 1);
  CHECK(g.chosen() == 2);
  CHECK(g.switches() == 0);
}

TEST_CASE("thread governor: a slow warm-up step (threads waking up) does not end a trial") {
  mlp::ThreadGovernor g(2);
  feed(g, 3000, 1.0, 0.6);
  REQUIRE(g.chosen() == 2);
  const int before = g.comparisons();
  // Load arrives: 2 threads now take 3.0. The first such step makes the mean of the last 3 steps
  // (0.6, 0.6, 3.0) 1.4, over 1.5 times the reference, and a trial starts; its first step on 1
  // thread takes 5.0 (3.6x that mean: over the limit of 2x for the other steps, under the warm-up's
  // 4x), the next ones 1.0: the trial goes on, and this one comparison switches.
  bool first_on_one = true;
  for (int i = 0; i < 16; ++i) {
    double t = 3.0;
    if (g.threads() == 1) {
      t = first_on_one ? 5.0 : 1.0;
      first_on_one = false;
    }
    g.record(t);
  }
  CHECK(g.comparisons() == before + 1);
  CHECK(g.chosen() == 1);
}

TEST_CASE("thread governor: small differences do not switch, one thread is left alone, reset starts over") {
  mlp::ThreadGovernor g(2);
  feed(g, 300, 1.0, 1.05);  // 1 thread only 5% faster: not worth a switch
  CHECK(g.chosen() == 2);
  CHECK(g.switches() == 0);
  mlp::ThreadGovernor single(1);
  feed(single, 100, 1.0, 1.0);
  CHECK(single.threads() == 1);
  CHECK(single.comparisons() == 0);
  g.reset(4);
  CHECK(g.threads() == 4);
  CHECK(g.most() == 4);
  CHECK(g.comparisons() == 0);
  g.record(-1.0);  // bad times are ignored
  g.record(std::numeric_limits<double>::quiet_NaN());
  g.record(std::numeric_limits<double>::infinity());
  CHECK(g.threads() == 4);
}

TEST_CASE("thread governor: the Trainer leaves thread_count() as it found it") {
  const ThreadCount scope(2);
  const int before = mlp::thread_count();
  const mlp_test::Blobs train = mlp_test::make_blobs(200, 64, 4, 2, 1.5f);
  mlp::MlpSpec spec;
  spec.inputs = 64;
  spec.hidden = {32};
  spec.classes = 4;
  mlp::ParameterizedMLP<float> model(spec, 3);
  mlp::Adam<float> adam(model.parameters(), {1e-3});
  mlp::Trainer<float> trainer(model, adam);
  mlp::DataLoader<float> loader(train.x, train.y, {20, true, false, 4});
  trainer.fit(loader, nullptr, 3);
  CHECK(mlp::thread_count() == before);
  CHECK(trainer.thread_governor().most() == before);
  if (before > 1) CHECK(trainer.thread_governor().comparisons() >= 1);
}

namespace {

// Stands for a core taken by another process: a training step on more than one thread sleeps 50 ms,
// thousands of times a step of the model (even under a sanitizer on a busy machine), so the
// governor moves the steps to 1 thread at its first comparison. Records the
// thread count of every forward outside training (validation, evaluation).
class SlowOnTwoThreads final : public mlp_test::PassThrough {
 public:
  std::string_view kind() const override { return "SlowOnTwoThreads"; }
  std::vector<int> eval_threads;

 protected:
  void seen(mlp::Mode mode) override {
    if (mode == mlp::Mode::Eval) eval_threads.push_back(mlp::thread_count());
    if (mode == mlp::Mode::Train && mlp::thread_count() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
};

struct ThreadsSeen final : mlp::Callback<float> {
  std::vector<int> train_begin, epoch_begin, batch_end, epoch_end;
  std::string name() const override { return "threads seen"; }
  void on_train_begin(mlp::TrainContext<float>& /*ctx*/) override { train_begin.push_back(mlp::thread_count()); }
  void on_epoch_begin(mlp::TrainContext<float>& /*ctx*/) override { epoch_begin.push_back(mlp::thread_count()); }
  void on_batch_end(mlp::TrainContext<float>& /*ctx*/) override { batch_end.push_back(mlp::thread_count()); }
  void on_epoch_end(mlp::TrainContext<float>& /*ctx*/) override { epoch_end.push_back(mlp::thread_count()); }
};

// A callback that trains a step of its own at each epoch's end (on another loader's batch), and
// records which count the governor then takes as configured.
struct StepInCallback final : mlp::Callback<float> {
  mlp::Trainer<float>* trainer = nullptr;
  mlp::DataLoader<float>* loader = nullptr;
  std::vector<int> most_after;
  std::string name() const override { return "step in callback"; }
  void on_epoch_end(mlp::TrainContext<float>& /*ctx*/) override {
    loader->start_epoch(0);
    trainer->train_step(*loader->next());
    most_after.push_back(trainer->thread_governor().most());
  }
};

}  // namespace

// The loader, validation and the callbacks run parallel passes between the steps: left on 2 threads
// while the steps run on 1 because a core is taken, each would wait for the thread that is not
// running (M's epoch 9x as long as on 1 thread, docs/performance.md, "The twenty-sixth round").
TEST_CASE("thread governor: once the steps run on 1 thread, validation, evaluate() and the callbacks do too") {
  const ThreadCount scope(2);
  if (mlp::thread_count() < 2) return;  // without OpenMP there is nothing to govern
  const mlp_test::Blobs train = mlp_test::make_blobs(400, 8, 3, 5, 1.5f), val = mlp_test::make_blobs(60, 8, 3, 6, 1.5f);
  mlp::Rng rng(7);
  mlp::Sequential<float> model(mlp::Shape::flat(8));
  model.emplace<mlp::Linear<float>>(8, 3, rng);
  auto& slow = model.emplace<SlowOnTwoThreads>();
  mlp::Adam<float> adam(model.parameters(), {1e-3});
  mlp::Trainer<float> trainer(model, adam);
  ThreadsSeen seen;
  trainer.add_callback(seen);
  mlp::DataLoader<float> train_loader(train.x, train.y, {10, true, false, 4});
  mlp::DataLoader<float> val_loader(val.x, val.y, {20, false, false, 4});
  mlp::DataLoader<float> extra_loader(train.x, train.y, {10, true, false, 9});
  StepInCallback stepping;
  stepping.trainer = &trainer;
  stepping.loader = &extra_loader;
  trainer.add_callback(stepping);
  trainer.fit(train_loader, &val_loader, 2);

  // 40 steps an epoch: the governor compares after the first few and keeps 1 thread from then on.
  REQUIRE(trainer.thread_governor().chosen() == 1);
  CHECK(trainer.thread_governor().switches() == 1);
  CHECK(trainer.step_threads() == 1);
  CHECK(trainer.chosen_threads() == 1);
  // A step trained inside a callback (on 1 thread there) left the governor governing 2 threads.
  CHECK(stepping.most_after == std::vector<int>{2, 2});
  CHECK(seen.train_begin == std::vector<int>{2});  // before any comparison
  CHECK(seen.epoch_begin == std::vector<int>{2, 1});
  REQUIRE(slow.eval_threads.size() == 6);  // 3 validation batches after each epoch
  for (int t : slow.eval_threads) CHECK(t == 1);
  CHECK(seen.epoch_end == std::vector<int>{1, 1});
  REQUIRE(seen.batch_end.size() == 80);
  CHECK(seen.batch_end.front() == 2);  // before the first comparison
  CHECK(std::count(seen.batch_end.begin(), seen.batch_end.end(), 1) >= 60);
  CHECK(seen.batch_end.back() == 1);
  CHECK(trainer.evaluate(val_loader).samples == 60);
  CHECK(slow.eval_threads.back() == 1);
  // The loader's next batch is the same batch whatever the thread count it is filled on.
  train_loader.start_epoch(5);
  const std::optional<mlp::Batch<float>> governed = trainer.next_batch(train_loader);
  REQUIRE(governed.has_value());
  const mlp::Matrix<float> x = governed->x;
  train_loader.start_epoch(5);
  const mlp::Matrix<float> again = train_loader.next()->x;
  CHECK(mlp_test::same_bits(x, again));
  CHECK(mlp::thread_count() == 2);  // every limit undone
}
