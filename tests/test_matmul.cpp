// mlp::matmul, the products a layer of one's own runs as Linear and Conv2d run theirs.
#include "helpers.hpp"

#include <mlp/core/threads.hpp>
#include <mlp/layers/linear.hpp>
#include <mlp/layers/matmul.hpp>

using mlp_test::random_matrix;

TEST_CASE("matmul gives Linear's bits, fp32 and bf16, and the same bits at 1, 2 and 3 threads") {
  mlp::Rng rng(5);
  mlp::Linear<float> lin(300, 200, rng);
  lin.bias().setZero();
  const mlp::Matrix<float> x = random_matrix<float>(300, 128, 1);
  mlp::MatmulWorkspace<float> ws;
  for (const mlp::MatmulPrecision precision : {mlp::MatmulPrecision::Float32, mlp::MatmulPrecision::BFloat16}) {
    CAPTURE(mlp::to_string(precision));
    lin.set_matmul_precision(precision);
    const mlp::Matrix<float> expected = lin.forward(x, mlp::Mode::Eval);
    for (int threads : {1, 2, 3}) {
      CAPTURE(threads);
      const mlp_test::ThreadCount count(threads);
      mlp::Matrix<float> y(200, 128);
      mlp::matmul<float>(y, lin.weight(), x, ws, {false, false, false, precision});
      CHECK(y == expected);
    }
  }
  // op(A) = A^T and op(B) = B^T, accumulating onto C, and into a block of a larger matrix.
  const mlp::Matrix<float> dy = random_matrix<float>(200, 128, 2);
  mlp::Matrix<float> dw = mlp::Matrix<float>::Ones(200, 300);
  mlp::matmul<float>(dw, dy, x, ws, {false, true, true});
  CHECK(dw.isApprox(((dy * x.transpose()).array() + 1.0f).matrix(), 1e-5f));
  mlp::Matrix<float> wide = mlp::Matrix<float>::Zero(310, 130);
  mlp::matmul<float>(wide.block(5, 1, 300, 128), lin.weight(), dy, ws, {true, false, false});
  CHECK(wide.block(5, 1, 300, 128).isApprox(lin.weight().transpose() * dy, 1e-5f));
  CHECK(wide.col(0).isZero());
  // Row blocks of one matrix interleave their columns without sharing an element: out = [x; W x].
  mlp::Matrix<float> stacked(500, 128);
  stacked.topRows(300) = x;
  mlp::matmul<float>(stacked.bottomRows(200), lin.weight(), stacked.topRows(300), ws);
  CHECK(stacked.bottomRows(200).isApprox(lin.weight() * x, 1e-5f));
  CHECK_THROWS_AS(mlp::matmul<float>(stacked.middleRows(250, 200), lin.weight(), stacked.topRows(300), ws),
                  mlp::InvalidArgument);  // rows 250 to 299 are both
}

TEST_CASE("matmul refuses shapes that do not fit, a C that shares memory with A or B, and bf16 in double") {
  mlp::MatmulWorkspace<double> ws;
  const mlp::Matrix<double> a = random_matrix(3, 4, 1), b = random_matrix(4, 5, 2);
  mlp::Matrix<double> c(3, 4);
  CHECK_THROWS_WITH_AS(mlp::matmul<double>(c, a, b, ws),
                       "matmul: op(A) of 3 x 4 times op(B) of 4 x 5 into C of 3 x 4 (C has to be sized op(A) rows x "
                       "op(B) columns)",
                       mlp::InvalidArgument);
  mlp::Matrix<double> square = random_matrix(4, 4, 3);
  CHECK_THROWS_WITH_AS(mlp::matmul<double>(square, square, square, ws),
                       "matmul: C shares memory with A or B (the product writes C while it reads them)",
                       mlp::InvalidArgument);
  mlp::Matrix<double> c_ok(3, 5);
  CHECK_THROWS_WITH_AS(mlp::matmul<double>(c_ok, a, b, ws, {false, false, false, mlp::MatmulPrecision::BFloat16}),
                       "matmul: bf16 products are for float matrices, not double", mlp::InvalidArgument);
  mlp::matmul<double>(c_ok, a, b, ws);
  CHECK(c_ok.isApprox(a * b, 1e-14));
  mlp::Matrix<double> none(0, 5);
  CHECK_THROWS_AS(mlp::matmul<double>(none, mlp::Matrix<double>(0, 4), b, ws,
                                      {false, false, false, mlp::MatmulPrecision::BFloat16}),
                  mlp::InvalidArgument);  // (also when there is nothing to multiply)
  mlp::Matrix<double> empty_k(3, 5);
  empty_k.setOnes();
  mlp::matmul<double>(empty_k, mlp::Matrix<double>(3, 0), mlp::Matrix<double>(0, 5), ws);
  CHECK(empty_k.isZero());
}
