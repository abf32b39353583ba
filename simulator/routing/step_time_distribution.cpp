#include "routing/step_time_distribution.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace ecsim {

Seconds quantile_sorted(const std::vector<Seconds>& sorted, double q) {
  if (sorted.empty()) throw RuntimeFailure("quantile of no samples");
  const double h = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double w = h - static_cast<double>(lo);
  return Seconds{sorted[lo].value + w * (sorted[hi].value - sorted[lo].value)};
}

StepTimeDistribution summarize_step_times(Seconds deterministic, std::vector<Seconds> samples) {
  std::sort(samples.begin(), samples.end());
  Seconds sum;
  for (Seconds s : samples) sum += s;
  StepTimeDistribution out;
  out.deterministic = deterministic;
  // Identical samples (balanced routings) give their value exactly, not a sum's rounding of it.
  out.mean = samples.front() == samples.back() ? samples.front() : Seconds{sum.value / static_cast<double>(samples.size())};
  out.p50 = quantile_sorted(samples, 0.50);
  out.p95 = quantile_sorted(samples, 0.95);
  out.p99 = quantile_sorted(samples, 0.99);
  return out;
}

}  // namespace ecsim
