// What routing looks like, for sampling per-expert loads: the scenario's optional
// "run"/"routing_stats" object (format in scenarios/README.md).
//
//   {"distribution": "uniform" | "zipf" | "dirichlet" | "histogram",
//    "exponent": s (zipf), "concentration": alpha (dirichlet), "histogram": FILE or object,
//    "samples": N (sampled steps, default 64)}
//
// The distribution describes the experts' shares of the router's first choices in one MoE layer
// of one step; routing/expert_shares.hpp draws them, the routings turn them into loads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/json_input.hpp"
#include "model/model_spec.hpp"
#include "routing/expert_histogram.hpp"

namespace ecsim {

enum class LoadDistribution { kUniform, kZipf, kDirichlet, kHistogram };
const char* distribution_name(LoadDistribution d);  // "uniform", "zipf", "dirichlet", "histogram"

struct RoutingStatsSpec {
  LoadDistribution distribution = LoadDistribution::kUniform;
  double exponent = 0;       // zipf: the expert of popularity rank i (1-based) gets a share ~ i^-exponent
  double concentration = 1;  // dirichlet: alpha of each expert (symmetric); large alpha -> uniform
  std::optional<ExpertHistogram> histogram;
  std::int64_t samples = 64;  // sampled steps
  std::string file, path;     // where the object was read (errors found against the model)
};

constexpr std::int64_t kDefaultRoutingSamples = 64;

RoutingStatsSpec parse_routing_stats(const Node& node);
// Checks the spec against the model it will route (a histogram's expert count, MoE at all).
void check_routing_stats(const RoutingStatsSpec& spec, const ModelSpec& model);
// Echo for the result JSON: the distribution and its parameter.
Json routing_stats_to_json(const RoutingStatsSpec& spec);
// One line for the terminal: "zipf (exponent 0.8), 64 sampled steps".
std::string describe_routing_stats(const RoutingStatsSpec& spec);

}  // namespace ecsim
