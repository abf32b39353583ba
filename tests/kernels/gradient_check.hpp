// Finite-difference gradient checks for the CPU references, in fp64.
// Central differences with step h have error about h^2 |f'''| / 6 + eps |f| / h; with h = 1e-6
// and values of order one that is below 1e-9, so the stated tolerance |fd - analytic| <=
// 1e-7 + 1e-6 |analytic| leaves two orders of margin yet catches any wrong term.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace ecsim::test {

struct GradTolerance {
  double step = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-6;
};

// n values drawn uniformly from [lo, hi) with a fixed seed, so a failure reproduces.
inline std::vector<double> random_values(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

// sum_i w_i out_i: a scalar loss whose gradient with respect to `out` is w.
inline double weighted_sum(std::span<const double> w, std::span<const double> out) {
  REQUIRE(w.size() == out.size());
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i) s += w[i] * out[i];
  return s;
}

// Compares `analytic` with central differences of `loss` around x, element by element; on failure
// reports the number of mismatches and the first one's index with both values.
inline void check_gradient(const std::string& what, const std::function<double(const std::vector<double>&)>& loss,
                           const std::vector<double>& x, std::span<const double> analytic, GradTolerance tol = {}) {
  REQUIRE_MESSAGE(analytic.size() == x.size(),
                  what << ": gradient has " << analytic.size() << " elements, input " << x.size());
  std::vector<double> probe = x;
  std::size_t mismatches = 0, first = 0;
  double first_fd = 0, worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    probe[i] = x[i] + tol.step;
    const double up = loss(probe);
    probe[i] = x[i] - tol.step;
    const double down = loss(probe);
    probe[i] = x[i];
    const double fd = (up - down) / (2 * tol.step);
    const double err = std::abs(fd - analytic[i]);
    worst = std::max(worst, err);
    if (err > tol.atol + tol.rtol * std::abs(analytic[i])) {
      if (mismatches == 0) {
        first = i;
        first_fd = fd;
      }
      ++mismatches;
    }
  }
  CHECK_MESSAGE(mismatches == 0, what << ": " << mismatches << " of " << x.size()
                                      << " gradient elements differ; first at " << first << ": finite difference "
                                      << first_fd << ", analytic " << analytic[first] << " (largest error " << worst
                                      << ")");
}

}  // namespace ecsim::test
