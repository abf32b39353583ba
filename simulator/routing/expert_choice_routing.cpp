#include "routing/expert_choice_routing.hpp"

#include <algorithm>
#include <numeric>

#include "core/errors.hpp"

namespace ecsim {

ExpertChoiceGroup route_expert_choice_group(const std::vector<double>& shares, std::int64_t group_tokens,
                                            std::int64_t capacity, RandomStream& rng) {
  if (capacity < 1 || capacity > group_tokens || shares.empty()) {
    throw RuntimeFailure("expert-choice routing: capacity " + std::to_string(capacity) + " for a group of " +
                         std::to_string(group_tokens) + " tokens");
  }
  const auto g = static_cast<std::size_t>(group_tokens);
  const std::size_t e_count = shares.size();
  // exp(log(share) + Gumbel) = share / Exp(1), so one log per (token, expert); then the softmax
  // over experts is that over its row sum.
  std::vector<double> affinity(g * e_count);  // [G, E]
  for (std::size_t t = 0; t < g; ++t) {
    double* row = &affinity[t * e_count];
    double sum = 0;
    for (std::size_t e = 0; e < e_count; ++e) {
      row[e] = shares[e] / rng.exponential();
      sum += row[e];
    }
    for (std::size_t e = 0; e < e_count; ++e) row[e] /= sum;
  }
  ExpertChoiceGroup out;
  out.group_tokens = group_tokens;
  out.capacity = capacity;
  out.per_expert.assign(e_count, 0);
  std::vector<std::int64_t> taken_by(g, 0);
  std::vector<std::size_t> order(g);
  const auto c = static_cast<std::ptrdiff_t>(capacity);
  for (std::size_t e = 0; e < e_count; ++e) {
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Highest affinity first; ties (zero shares) by token index, so the result is reproducible.
    std::nth_element(order.begin(), order.begin() + (c - 1), order.end(), [&](std::size_t a, std::size_t b) {
      const double x = affinity[a * e_count + e], y = affinity[b * e_count + e];
      return x != y ? x > y : a < b;
    });
    for (auto it = order.begin(); it != order.begin() + c; ++it) {
      ++taken_by[*it];
      ++out.per_expert[e];
    }
  }
  out.experts_per_token.assign(e_count + 1, 0);
  for (std::int64_t n : taken_by) ++out.experts_per_token[static_cast<std::size_t>(n)];
  return out;
}

}  // namespace ecsim
