// LayerNorm fused with adaLN modulation (kernels/ref/adaln_layernorm.hpp): closed forms and the
// backward against finite differences.
#include "ref/adaln_layernorm.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "precondition.hpp"

using namespace ecsim;

TEST_CASE("adaln layernorm without modulation: rows get mean 0 and variance var / (var + eps)") {
  const ref::SampleRows s{2, 3, 16};
  const auto x = test::random_values(static_cast<std::size_t>(s.elements()), 1, -3, 5);
  const std::vector<double> zeros(static_cast<std::size_t>(s.vector_elements()), 0.0);
  const auto f = ref::adaln_layernorm_fwd(s, x, zeros, zeros);
  for (std::int64_t row = 0; row < 6; ++row) {
    double mean = 0, var_x = 0, var_y = 0;
    for (std::int64_t c = 0; c < 16; ++c) mean += f.y[static_cast<std::size_t>(row * 16 + c)] / 16;
    const double mx = f.mean[static_cast<std::size_t>(row)];
    for (std::int64_t c = 0; c < 16; ++c) {
      var_y += std::pow(f.y[static_cast<std::size_t>(row * 16 + c)], 2) / 16;
      var_x += std::pow(x[static_cast<std::size_t>(row * 16 + c)] - mx, 2) / 16;
    }
    CHECK(std::abs(mean) < 1e-14);
    CHECK(var_y == doctest::Approx(var_x / (var_x + ref::kAdaLnEps)).epsilon(1e-13));
    CHECK(f.rstd[static_cast<std::size_t>(row)] ==
          doctest::Approx(1 / std::sqrt(var_x + ref::kAdaLnEps)).epsilon(1e-13));
  }
}

TEST_CASE("adaln layernorm: a known row, and per-sample shift and scale") {
  // x = [1, 2, 3]: mean 2, variance 2/3, xhat = [-1, 0, 1] * sqrt(3/2) (eps 0 aside).
  // Sample 0: scale 1, shift 0 doubles xhat; sample 1: scale 0, shift 5 adds 5.
  const ref::SampleRows s{2, 1, 3};
  const std::vector<double> x{1, 2, 3, 1, 2, 3};
  const std::vector<double> shift{0, 0, 0, 5, 5, 5}, scale{1, 1, 1, 0, 0, 0};
  const auto f = ref::adaln_layernorm_fwd(s, x, shift, scale, 1e-12);
  const double r = std::sqrt(1.5);
  const std::vector<double> expected{-2 * r, 0, 2 * r, 5 - r, 5, 5 + r};
  for (std::size_t i = 0; i < 6; ++i) CHECK(f.y[i] == doctest::Approx(expected[i]).epsilon(1e-10));
}

TEST_CASE("adaln layernorm backward matches finite differences (fp64, |fd - grad| <= 1e-7 + 1e-6 |grad|)") {
  const ref::SampleRows s{2, 3, 5};
  const auto x = test::random_values(static_cast<std::size_t>(s.elements()), 2, -2, 2);
  const auto shift = test::random_values(static_cast<std::size_t>(s.vector_elements()), 3);
  const auto scale = test::random_values(static_cast<std::size_t>(s.vector_elements()), 4);
  const auto w = test::random_values(static_cast<std::size_t>(s.elements()), 5);
  const auto f = ref::adaln_layernorm_fwd(s, x, shift, scale);
  const auto g = ref::adaln_layernorm_bwd(s, x, scale, f.mean, f.rstd, w);
  auto loss = [&](const std::vector<double>& xv, const std::vector<double>& sh, const std::vector<double>& sc) {
    return test::weighted_sum(w, ref::adaln_layernorm_fwd(s, xv, sh, sc).y);
  };
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return loss(v, shift, scale); }, x, g.dx);
  test::check_gradient(
      "dshift", [&](const std::vector<double>& v) { return loss(x, v, scale); }, shift, g.dshift);
  test::check_gradient(
      "dscale", [&](const std::vector<double>& v) { return loss(x, shift, v); }, scale, g.dscale);
}

TEST_CASE("adaln layernorm rejects vectors that are not [B, d]") {
  const ref::SampleRows s{2, 3, 4};
  const std::vector<double> x(24, 1.0), v(8, 0.0), wrong(4, 0.0);
  CHECK_THROWS_AS(ref::adaln_layernorm_fwd(s, x, wrong, v), PreconditionError);
  CHECK_THROWS_AS(ref::adaln_layernorm_fwd(s, x, v, v, 0.0), PreconditionError);
}
