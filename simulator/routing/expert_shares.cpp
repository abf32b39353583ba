#include "routing/expert_shares.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace ecsim {
namespace {

void normalize(std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  for (double& x : v) x /= sum;
}

// Fisher-Yates with the stream's unbiased `below`.
void shuffle(std::vector<double>& v, RandomStream& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace

std::vector<double> zipf_shares(std::int64_t experts, double exponent) {
  std::vector<double> s(static_cast<std::size_t>(experts));
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = std::pow(static_cast<double>(i + 1), -exponent);
  normalize(s);
  return s;
}

std::vector<double> draw_expert_shares(const RoutingStatsSpec& spec, std::int64_t experts, RandomStream& rng) {
  const auto e = static_cast<std::size_t>(experts);
  switch (spec.distribution) {
    case LoadDistribution::kUniform:
      return std::vector<double>(e, 1.0 / static_cast<double>(experts));
    case LoadDistribution::kZipf: {
      std::vector<double> s = zipf_shares(experts, spec.exponent);
      shuffle(s, rng);
      return s;
    }
    case LoadDistribution::kDirichlet: {
      // Normalized Gamma(alpha) draws, combined in logs (a softmax) so that no draw underflows.
      std::vector<double> logs(e);
      for (double& l : logs) l = rng.log_gamma(spec.concentration);
      const double top = *std::max_element(logs.begin(), logs.end());
      std::vector<double> s(e);
      for (std::size_t i = 0; i < e; ++i) s[i] = std::exp(logs[i] - top);
      normalize(s);
      return s;
    }
    case LoadDistribution::kHistogram: {
      const auto& rows = spec.histogram->loads;
      if (static_cast<std::int64_t>(rows.front().size()) != experts) {
        throw RuntimeFailure("expert histogram has " + std::to_string(rows.front().size()) + " experts, the model " +
                             std::to_string(experts));
      }
      std::vector<double> s = rows[rng.below(rows.size())];
      normalize(s);
      return s;
    }
  }
  throw RuntimeFailure("unknown load distribution");
}

}  // namespace ecsim
