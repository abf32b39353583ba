// Matrix products (kernels/ref/gemm.hpp): closed forms and the backward against finite differences.
#include "ref/gemm.hpp"

#include <doctest/doctest.h>

#include "gradient_check.hpp"
#include "precondition.hpp"

using namespace ecsim;

TEST_CASE("gemm: x times the identity plus a bias adds the bias to each row") {
  const ref::GemmShape s{3, 4, 4};
  const auto x = test::random_values(12, 1);
  std::vector<double> eye(16, 0.0);
  for (int i = 0; i < 4; ++i) eye[static_cast<std::size_t>(5 * i)] = 1.0;
  const std::vector<double> bias{1, 2, 3, 4};
  const auto y = ref::gemm(s, x, eye, bias);
  for (std::size_t i = 0; i < 12; ++i) CHECK(y[i] == x[i] + bias[i % 4]);
  // [1 2; 3 4] [5; 6] = [17; 39]
  CHECK(ref::gemm({2, 1, 2}, std::vector<double>{1, 2, 3, 4}, std::vector<double>{5, 6}, {}) ==
        std::vector<double>{17, 39});
}

TEST_CASE("gemm backward matches finite differences (fp64, |fd - grad| <= 1e-7 + 1e-6 |grad|)") {
  const ref::GemmShape s{5, 3, 4};
  const auto x = test::random_values(20, 2), w = test::random_values(12, 3), b = test::random_values(3, 4);
  const auto dy = test::random_values(15, 5);
  const auto g = ref::gemm_bwd(s, x, w, dy);
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return test::weighted_sum(dy, ref::gemm(s, v, w, b)); }, x, g.dx);
  test::check_gradient(
      "dw", [&](const std::vector<double>& v) { return test::weighted_sum(dy, ref::gemm(s, x, v, b)); }, w, g.dw);
  test::check_gradient(
      "dbias", [&](const std::vector<double>& v) { return test::weighted_sum(dy, ref::gemm(s, x, w, v)); }, b, g.dbias);
}

TEST_CASE("grouped gemm: each group uses its own weight (equal groups make a batched gemm)") {
  const std::vector<std::int64_t> rows{2, 0, 3};
  const std::int64_t n = 2, k = 3;
  const auto x = test::random_values(5 * 3, 6), w = test::random_values(3 * 3 * 2, 7);
  const auto y = ref::grouped_gemm(rows, n, k, x, w);
  // Rows 2..4 belong to group 2: compare with a plain gemm on that slice and weight.
  const std::vector<double> x2(x.begin() + 2 * k, x.end()), w2(w.begin() + 2 * k * n, w.end());
  const auto y2 = ref::gemm({3, n, k}, x2, w2, {});
  for (std::size_t i = 0; i < y2.size(); ++i)
    CHECK(y[static_cast<std::size_t>(2 * n) + i] == doctest::Approx(y2[i]).epsilon(1e-15));
}

TEST_CASE("grouped gemm backward matches finite differences, an empty group included (fp64)") {
  const std::vector<std::int64_t> rows{3, 0, 2, 1};
  const std::int64_t n = 3, k = 2;
  const auto x = test::random_values(6 * 2, 8), w = test::random_values(4 * 2 * 3, 9),
             dy = test::random_values(6 * 3, 10);
  const auto g = ref::grouped_gemm_bwd(rows, n, k, x, w, dy);
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return test::weighted_sum(dy, ref::grouped_gemm(rows, n, k, v, w)); },
      x, g.dx);
  test::check_gradient(
      "dw", [&](const std::vector<double>& v) { return test::weighted_sum(dy, ref::grouped_gemm(rows, n, k, x, v)); },
      w, g.dw);
  // The empty group's weight gets no gradient.
  for (std::size_t i = 6; i < 12; ++i) CHECK(g.dw[i] == 0.0);
}

TEST_CASE("gemm rejects buffers of the wrong size") {
  CHECK_THROWS_AS(ref::gemm({2, 2, 2}, std::vector<double>(3), std::vector<double>(4), {}), PreconditionError);
  CHECK_THROWS_AS(ref::gemm({2, 2, 2}, std::vector<double>(4), std::vector<double>(4), std::vector<double>(3)),
                  PreconditionError);
  CHECK_THROWS_AS(
      ref::grouped_gemm(std::vector<std::int64_t>{2, -1}, 2, 2, std::vector<double>(2), std::vector<double>(8)),
      PreconditionError);
}
