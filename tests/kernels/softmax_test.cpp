// Router softmax (kernels/ref/softmax.hpp): closed forms and the backward against finite differences.
#include "ref/softmax.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "precondition.hpp"

using namespace ecsim;

TEST_CASE("softmax of equal logits is uniform") {
  const std::vector<double> logits(3 * 8, 0.7);
  for (double p : ref::softmax_rows(logits, 3, 8)) CHECK(p == doctest::Approx(1.0 / 8).epsilon(1e-15));
}

TEST_CASE("softmax: known values, shift invariance and large logits") {
  // [0, ln 2, ln 3] -> [1, 2, 3] / 6.
  const std::vector<double> logits{0.0, std::log(2.0), std::log(3.0)};
  const auto p = ref::softmax_rows(logits, 1, 3);
  CHECK(p[0] == doctest::Approx(1.0 / 6).epsilon(1e-14));
  CHECK(p[1] == doctest::Approx(2.0 / 6).epsilon(1e-14));
  CHECK(p[2] == doctest::Approx(3.0 / 6).epsilon(1e-14));
  // Adding 1000 to every logit overflows a naive exp(); the max-subtracted form gives the same row.
  const std::vector<double> shifted{1000.0, 1000.0 + std::log(2.0), 1000.0 + std::log(3.0)};
  const auto q = ref::softmax_rows(shifted, 1, 3);
  for (int i = 0; i < 3; ++i) CHECK(q[i] == doctest::Approx(p[i]).epsilon(1e-12));
}

TEST_CASE("softmax backward matches finite differences (fp64, |fd - grad| <= 1e-7 + 1e-6 |grad|)") {
  const std::int64_t rows = 5, cols = 7;
  const auto logits = test::random_values(rows * cols, 11, -3, 3);
  const auto w = test::random_values(rows * cols, 12);
  const auto p = ref::softmax_rows(logits, rows, cols);
  const auto grad = ref::softmax_rows_bwd(p, w, rows, cols);
  test::check_gradient(
      "dlogits", [&](const std::vector<double>& x) { return test::weighted_sum(w, ref::softmax_rows(x, rows, cols)); },
      logits, grad);
}

TEST_CASE("softmax rejects a buffer of the wrong size") {
  const std::vector<double> logits(10, 0.0);
  CHECK_THROWS_AS(ref::softmax_rows(logits, 3, 4), PreconditionError);
}
