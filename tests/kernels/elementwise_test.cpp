// GeLU, gated residual and the rectified-flow loss (kernels/ref/gelu.hpp, gate_residual.hpp,
// flow_loss.hpp): closed forms and the backward against finite differences.
#include <doctest/doctest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "precondition.hpp"
#include "ref/flow_loss.hpp"
#include "ref/gate_residual.hpp"
#include "ref/gelu.hpp"

using namespace ecsim;

TEST_CASE("gelu (tanh form): known values and limits") {
  // gelu(1) = 0.5 (1 + tanh(sqrt(2/pi) * 1.044715)) = 0.8411919906082768
  const auto y = ref::gelu_fwd(std::vector<double>{0.0, 1.0, -1.0, 10.0, -10.0});
  CHECK(y[0] == 0.0);
  CHECK(y[1] == doctest::Approx(0.8411919906082768).epsilon(1e-14));
  CHECK(y[2] == doctest::Approx(0.8411919906082768 - 1.0).epsilon(1e-14));  // gelu(-x) = gelu(x) - x
  CHECK(y[3] == doctest::Approx(10.0).epsilon(1e-14));
  CHECK(std::abs(y[4]) < 1e-20);
  // gelu'(0) = 1/2.
  CHECK(ref::gelu_bwd(std::vector<double>{0.0}, std::vector<double>{1.0})[0] == 0.5);
}

TEST_CASE("gelu backward matches finite differences (fp64, |fd - grad| <= 1e-7 + 1e-6 |grad|)") {
  const auto x = test::random_values(40, 1, -4, 4);
  const auto w = test::random_values(40, 2);
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return test::weighted_sum(w, ref::gelu_fwd(v)); }, x,
      ref::gelu_bwd(x, w));
}

TEST_CASE("gated residual: gate 0 passes x, gate 1 adds y") {
  const ref::SampleRows s{2, 2, 3};
  const auto x = test::random_values(12, 3), y = test::random_values(12, 4);
  const std::vector<double> gate{0, 0, 0, 1, 1, 1};  // sample 0: 0, sample 1: 1
  const auto out = ref::gate_residual_fwd(s, x, y, gate);
  for (std::size_t i = 0; i < 6; ++i) CHECK(out[i] == x[i]);
  for (std::size_t i = 6; i < 12; ++i) CHECK(out[i] == x[i] + y[i]);
}

TEST_CASE("gated residual backward matches finite differences (fp64)") {
  const ref::SampleRows s{2, 3, 4};
  const auto x = test::random_values(24, 5), y = test::random_values(24, 6), gate = test::random_values(8, 7);
  const auto w = test::random_values(24, 8);
  const auto g = ref::gate_residual_bwd(s, y, gate, w);
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return test::weighted_sum(w, ref::gate_residual_fwd(s, v, y, gate)); },
      x, g.dx);
  test::check_gradient(
      "dy", [&](const std::vector<double>& v) { return test::weighted_sum(w, ref::gate_residual_fwd(s, x, v, gate)); },
      y, g.dy);
  test::check_gradient(
      "dgate", [&](const std::vector<double>& v) { return test::weighted_sum(w, ref::gate_residual_fwd(s, x, y, v)); },
      gate, g.dgate);
}

TEST_CASE("flow loss: mean squared error, known value, zero at the target") {
  const std::vector<double> pred{1, 2, 3, 4}, target{1, 0, 3, 0};
  CHECK(ref::flow_loss(pred, target) == doctest::Approx((4.0 + 16.0) / 4).epsilon(1e-15));
  CHECK(ref::flow_loss(target, target) == 0.0);
  CHECK(ref::flow_loss_bwd(pred, target) == std::vector<double>{0, 1, 0, 2});  // 2 (p - t) / 4
}

TEST_CASE("flow loss backward matches finite differences (fp64)") {
  const auto pred = test::random_values(30, 9), target = test::random_values(30, 10);
  test::check_gradient(
      "dpred", [&](const std::vector<double>& v) { return ref::flow_loss(v, target); }, pred,
      ref::flow_loss_bwd(pred, target));
  CHECK_THROWS_AS(ref::flow_loss(pred, std::vector<double>(29)), PreconditionError);
}
