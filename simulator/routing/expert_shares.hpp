// The experts' shares of the router's first choices in one MoE layer of one step, drawn from the
// configured distribution. Shares are the probabilities of a categorical over experts: positive
// or zero, summing to 1. Which expert is hot changes from draw to draw (Zipf is permuted, a
// Dirichlet draw is exchangeable), except for measured histograms, whose experts keep their ids
// and therefore their placement on the expert-parallel ranks.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/random_stream.hpp"
#include "routing/routing_stats_spec.hpp"

namespace ecsim {

// [experts] shares summing to 1.
std::vector<double> draw_expert_shares(const RoutingStatsSpec& spec, std::int64_t experts, RandomStream& rng);

// Zipf's law over `experts` in popularity order: share_i = i^-s / H(E, s), i = 1..E.
std::vector<double> zipf_shares(std::int64_t experts, double exponent);

}  // namespace ecsim
