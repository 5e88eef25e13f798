#include "helpers.hpp"

#include <mlp/losses/softmax_cross_entropy.hpp>
#include <mlp/train/metric.hpp>
#include <mlp/train/metrics.hpp>

#include <cmath>
#include <limits>

using mlp_test::MatrixD;
using mlp_test::random_matrix;

namespace {

// -(1/B) sum_b sum_k T_kb log softmax(z)_kb, written the textbook way in long double.
double naive_loss(const MatrixD& z, const mlp::Labels& y, double smoothing) {
  const auto eps = static_cast<long double>(smoothing);
  long double total = 0.0L;
  const auto k = static_cast<long double>(z.rows());
  for (mlp::Index b = 0; b < z.cols(); ++b) {
    long double norm = 0.0L;
    for (mlp::Index i = 0; i < z.rows(); ++i) norm += std::exp(static_cast<long double>(z(i, b)));
    for (mlp::Index i = 0; i < z.rows(); ++i) {
      const long double target = (i == y[b] ? 1.0L - eps : 0.0L) + eps / k;
      total -= target * std::log(std::exp(static_cast<long double>(z(i, b))) / norm);
    }
  }
  return static_cast<double>(total / static_cast<long double>(z.cols()));
}

mlp::Labels labels_of(std::initializer_list<int> ids) {
  mlp::Labels y(static_cast<mlp::Index>(ids.size()));
  mlp::Index i = 0;
  for (int id : ids) y[i++] = id;
  return y;
}

}  // namespace

TEST_CASE("softmax cross-entropy matches the textbook formula") {
  const MatrixD z = random_matrix(5, 4, 1, -3.0, 3.0);
  const mlp::Labels y = labels_of({0, 4, 2, 2});
  for (double eps : {0.0, 0.1}) {
    mlp::SoftmaxCrossEntropy<double> loss(eps);
    CHECK(loss.forward(z, y) == doctest::Approx(naive_loss(z, y, eps)).epsilon(1e-12));
    CHECK(loss.probabilities().colwise().sum().isOnes(1e-12));
  }
}

TEST_CASE("softmax cross-entropy gradients pass the finite-difference check") {
  MatrixD z = random_matrix(6, 5, 2, -2.0, 2.0);
  const mlp::Labels y = labels_of({1, 5, 0, 3, 3});
  for (double eps : {0.0, 0.2}) {
    mlp::SoftmaxCrossEntropy<double> loss(eps);
    loss.forward(z, y);
    MatrixD dz = loss.backward();
    const auto report = mlp::check_gradients({{"logits", z.data(), dz.data(), 6, 5, false}},
                                             [&] { return loss.forward(z, y); });
    INFO("label_smoothing=", eps, ": ", report.describe());
    CHECK(report.max_rel_error < 1e-6);
  }
}

TEST_CASE("softmax cross-entropy is finite for logits of magnitude 1e4") {
  mlp::Matrix<float> z(3, 2);
  z << 1e4f, -1e4f, 0.0f, 1e4f, -1e4f, 0.0f;
  const mlp::Labels y = labels_of({1, 1});
  mlp::SoftmaxCrossEntropy<float> loss;
  const float value = loss.forward(z, y);
  CHECK(std::isfinite(value));
  CHECK(value == doctest::Approx(5e3).epsilon(1e-6));  // column 0 costs 1e4, column 1 costs 0
  CHECK(loss.backward().allFinite());
  mlp::SoftmaxCrossEntropy<float> smoothed(0.1);
  CHECK(std::isfinite(smoothed.forward(z, y)));
}

TEST_CASE("softmax cross-entropy gradient is (P - onehot) / B") {
  const MatrixD z = random_matrix(3, 2, 5);
  const mlp::Labels y = labels_of({2, 0});
  mlp::SoftmaxCrossEntropy<double> loss;
  loss.forward(z, y);
  const MatrixD& g = loss.backward();
  for (mlp::Index b = 0; b < 2; ++b) {
    for (mlp::Index k = 0; k < 3; ++k) {
      const double expected = (loss.probabilities()(k, b) - (k == y[b] ? 1.0 : 0.0)) / 2.0;
      CHECK(g(k, b) == doctest::Approx(expected).epsilon(1e-14));
    }
  }
}

TEST_CASE("softmax cross-entropy rejects bad labels and shapes and names them") {
  mlp::SoftmaxCrossEntropy<float> loss;
  const mlp::Matrix<float> z = mlp::Matrix<float>::Zero(3, 2);
  CHECK_THROWS_WITH_AS(loss.forward(z, labels_of({0, 3})),
                       "label 3 at column 1 is out of range for 3 classes", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(loss.forward(z, labels_of({0, -1})), doctest::Contains("label -1"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(loss.forward(z, labels_of({0})),
                       doctest::Contains("2 columns of logits but 1 labels"),
                       mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::SoftmaxCrossEntropy<float>(1.5), doctest::Contains("but got 1.5"),
                       mlp::InvalidArgument);
  mlp::SoftmaxCrossEntropy<float> fresh;
  CHECK_THROWS_AS(fresh.backward(), mlp::RuntimeError);
}

TEST_CASE("a forward that rejected its labels leaves nothing for backward to write out of bounds with") {
  mlp::SoftmaxCrossEntropy<float> loss;
  const mlp::Matrix<float> z = mlp::Matrix<float>::Zero(3, 2);
  loss.forward(z, labels_of({0, 1}));
  CHECK_THROWS(loss.forward(z, labels_of({0, 1000000})));  // a label far out of range
  CHECK_THROWS_WITH_AS(loss.backward(), "SoftmaxCrossEntropy::backward needs a successful forward first",
                       mlp::RuntimeError);
  loss.forward(z, labels_of({2, 1}));
  CHECK(loss.backward()(2, 0) < 0.0f);  // valid again after a good forward
}

TEST_CASE("accuracy and the confusion matrix count argmax hits") {
  mlp::Matrix<float> z(3, 4);
  z << 0.9f, 0.1f, 0.2f, 0.0f,  //
      0.05f, 0.8f, 0.7f, 0.0f,  //
      0.05f, 0.1f, 0.1f, 1.0f;
  const mlp::Labels y = labels_of({0, 1, 2, 2});
  CHECK(mlp::count_correct(z, y) == 3);
  CHECK(mlp::accuracy(z, y) == doctest::Approx(0.75));
  CHECK(mlp::argmax_columns(z) == labels_of({0, 1, 1, 2}));
  mlp::ConfusionMatrix cm(3);
  cm.add(z, y);
  CHECK(cm.count(2, 1) == 1);
  CHECK(cm.count(2, 2) == 1);
  CHECK(cm.total() == 4);
  CHECK(cm.accuracy() == doctest::Approx(0.75));
  CHECK(cm.class_accuracy(2) == doctest::Approx(0.5));
  mlp::ConfusionMatrix two_classes(4);  // class 3 has no sample: its accuracy is no number, not 0%
  two_classes.add_count(0, 0, 1);
  two_classes.add_count(2, 1, 1);
  two_classes.add_count(2, 2, 1);
  CHECK(std::isnan(two_classes.class_accuracy(3)));
  CHECK(two_classes.class_samples(3) == 0);
  CHECK(two_classes.class_samples(2) == 2);
  CHECK_THROWS_AS(mlp::accuracy(z, labels_of({0})), mlp::InvalidArgument);
  // a column with a NaN predicts no class (argmax named class 0: NaN weights scored 100% on class 0)
  z(1, 0) = std::numeric_limits<float>::quiet_NaN();
  z(2, 3) = std::numeric_limits<float>::infinity();  // an infinite logit still wins
  CHECK(mlp::count_correct(z, y) == 2);
  mlp::Matrix<float> all_nan = mlp::Matrix<float>::Constant(3, 4, std::numeric_limits<float>::quiet_NaN());
  CHECK(mlp::accuracy(all_nan, labels_of({0, 0, 0, 0})) == 0.0);
}

// A column with a NaN predicts no class in count_correct; the confusion matrix and top-k agreed with
// it nowhere: the matrix named class 0 (0.5 for all-NaN logits where the accuracy was 0), and top-k
// counted every label as a hit (1.0). On ties top-1 counted the label too (first-wins elsewhere).
TEST_CASE("accuracy, the confusion matrix and top-1 agree on NaN logits and ties; argmax_columns follows torch") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  mlp::Matrix<float> z(3, 6);
  z << nan, nan, 5.0f, 5.0f, 0.0f, 1.0f,  //
      nan, 2.0f, 5.0f, 5.0f, nan, 3.0f,   //
      nan, 1.0f, 5.0f, 1.0f, 1.0f, 2.0f;
  const mlp::Labels y = labels_of({0, 1, 2, 1, 2, 1});
  // columns 0, 1 and 4 hold a NaN (no class); 2 and 3 are ties won by class 0; 5 is right
  CHECK(mlp::count_correct(z, y) == 1);
  mlp::ConfusionMatrix cm(3);
  cm.add(z, y);
  CHECK(cm.accuracy() == doctest::Approx(1.0 / 6.0));
  CHECK(cm.total() == 6);
  CHECK(cm.unpredicted(0) == 1);
  CHECK(cm.unpredicted(1) == 1);
  CHECK(cm.unpredicted(2) == 1);
  CHECK(cm.count(2, 0) == 1);
  CHECK(cm.count(1, 0) == 1);
  CHECK(cm.class_samples(1) == 3);
  CHECK(cm.class_accuracy(1) == doctest::Approx(1.0 / 3.0));
  CHECK(cm.class_accuracy(0) == 0.0);
  mlp::TopKAccuracy<float> top1(1), top2(2);
  top1.reset(), top2.reset();
  top1.update(z, y);
  top2.update(z, y);
  CHECK(top1.compute() == doctest::Approx(1.0 / 6.0));
  // top 2: ties rank first-wins, so column 2's label (class 2, tied with 0 and 1) is third, column 3's second
  CHECK(top2.compute() == doctest::Approx(2.0 / 6.0));
  // torch.argmax: the first NaN of a column, else the first largest
  CHECK(mlp::argmax_columns(z) == labels_of({0, 0, 0, 0, 1, 1}));
  mlp::Matrix<float> late_nan(3, 1);
  late_nan << 0.0f, nan, 1.0f;
  CHECK(mlp::argmax_columns(late_nan) == labels_of({1}));
  CHECK_THROWS_WITH_AS(cm.add_unpredicted(3, 1), "ConfusionMatrix::add_unpredicted: (3, 1) is out of range",
                       mlp::InvalidArgument);
}

TEST_CASE("TopKAccuracy counts labels among the k largest logits, and refuses what would make it meaningless") {
  mlp::Matrix<float> z(3, 2);
  z << 0.9f, 0.1f,  //
      0.5f, 0.8f,   //
      0.1f, 0.7f;
  mlp::TopKAccuracy<float> top2(2);
  top2.update(z, labels_of({2, 0}));
  CHECK(top2.compute() == doctest::Approx(0.0));
  top2.update(z, labels_of({1, 2}));
  CHECK(top2.compute() == doctest::Approx(0.5));
  // with 3 classes every label is in the top 3 (it reported 1.0); a label out of range was read past
  // the logits
  mlp::TopKAccuracy<float> top3(3);
  CHECK_THROWS_WITH_AS(top3.update(z, labels_of({0, 1})),
                       "TopKAccuracy(3) needs more than 3 classes, but the logits have 3", mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(top2.update(z, labels_of({0, 3})), "TopKAccuracy: label 3 is out of range for 3 classes",
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(top2.update(z, labels_of({0})), mlp::InvalidArgument);
}
