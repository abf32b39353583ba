// The step time as a distribution over sampled steps, next to the deterministic (uniform-load)
// estimate. Percentiles interpolate linearly between order statistics (Hyndman and Fan's type 7,
// numpy's default): with n samples, p_q lies at rank q*(n-1).
#pragma once

#include <vector>

#include "core/units.hpp"

namespace ecsim {

struct StepTimeDistribution {
  Seconds deterministic, mean, p50, p95, p99;
};

StepTimeDistribution summarize_step_times(Seconds deterministic, std::vector<Seconds> samples);
// The q-quantile (0 <= q <= 1) of sorted values, type 7.
Seconds quantile_sorted(const std::vector<Seconds>& sorted, double q);

}  // namespace ecsim
