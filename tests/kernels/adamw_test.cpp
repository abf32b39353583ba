// AdamW (kernels/ref/adamw.hpp): closed forms that hold exactly for a constant gradient.
#include "ref/adamw.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "precondition.hpp"

using namespace ecsim;

TEST_CASE("adamw with a constant gradient moves each weight by lr * g / (|g| + eps) per step") {
  // With g constant, bias correction makes m_hat = g and v_hat = g^2 at every step t, so after n
  // steps without weight decay p = p0 - n lr g / (|g| + eps).
  const ref::AdamWConfig c{1e-3, 0.9, 0.999, 1e-8, 0.0};
  std::vector<float> p{1.0f, -2.0f, 0.5f}, m(3, 0.0f), v(3, 0.0f);
  const std::vector<float> g{0.25f, -4.0f, 1e-3f};
  for (std::int64_t t = 1; t <= 5; ++t) ref::adamw_step(c, t, p, g, m, v);
  const std::vector<double> p0{1.0, -2.0, 0.5};
  for (std::size_t i = 0; i < 3; ++i) {
    const double expected = p0[i] - 5 * 1e-3 * g[i] / (std::abs(static_cast<double>(g[i])) + 1e-8);
    CHECK(p[i] == doctest::Approx(expected).epsilon(1e-6));  // fp32 storage: about 1e-7 relative per step
  }
  // m after n steps: g (1 - beta1^n).
  CHECK(m[0] == doctest::Approx(0.25 * (1 - std::pow(0.9, 5))).epsilon(1e-6));
}

TEST_CASE("adamw weight decay is decoupled: a zero gradient only shrinks the weights by (1 - lr wd) per step") {
  const ref::AdamWConfig c{1e-2, 0.9, 0.999, 1e-8, 0.1};
  std::vector<float> p{3.0f, -1.0f}, m(2, 0.0f), v(2, 0.0f);
  const std::vector<float> g(2, 0.0f);
  for (std::int64_t t = 1; t <= 10; ++t) ref::adamw_step(c, t, p, g, m, v);
  CHECK(p[0] == doctest::Approx(3.0 * std::pow(1 - 1e-3, 10)).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(-1.0 * std::pow(1 - 1e-3, 10)).epsilon(1e-6));
}

TEST_CASE("adamw rejects step 0 and buffers of different sizes") {
  std::vector<float> p(4, 1.0f), m(4, 0.0f), v(4, 0.0f), short_v(3, 0.0f);
  const std::vector<float> g(4, 1.0f);
  CHECK_THROWS_AS(ref::adamw_step({}, 0, p, g, m, v), PreconditionError);
  CHECK_THROWS_AS(ref::adamw_step({}, 1, p, g, m, short_v), PreconditionError);
}
