// What one routing costs when expert loads follow a distribution. For `samples` sampled steps,
// each MoE layer draws the experts' shares (expert_shares.hpp) and routes one expert-parallel
// group's micro-batch with them (expert_choice_routing.hpp, token_choice_routing.hpp); the
// step's micro-batches share that draw. Where the loads change the work, the step is simulated
// again with the busiest rank's expert rows and the layer's all-to-all traffic matrix
// (routing_sample.hpp); the step time becomes a distribution next to the deterministic estimate.
//
// Only dropless token choice changes the work from step to step: expert choice gives every
// expert exactly C tokens per group by construction, and padded capacity buffers give every
// expert its full capacity whatever its load, so their sampled steps equal the deterministic one
// and what varies is which tokens get processed (dropped pairs, tokens without an expert).
#pragma once

#include <cstdint>
#include <vector>

#include "core/progress.hpp"
#include "cost/compute_cost.hpp"
#include "routing/routing_stats_spec.hpp"
#include "routing/step_time_distribution.hpp"
#include "scenario/scenario.hpp"
#include "parallel/layout_plan.hpp"

namespace ecsim {

struct RoutingEvaluation {
  RoutingStatsSpec stats;
  std::uint64_t seed = 0;
  RoutingSpec routing;  // the routing evaluated (the scenario model's)
  StepTimeDistribution step_time;
  // (token, expert) pairs beyond capacity, of all pairs the router chose (token choice).
  double tokens_dropped_fraction = 0;
  // Tokens that no expert processes: not taken by any expert (expert choice), or all of their
  // choices dropped (token choice); they pass the layer on the residual path alone.
  double tokens_without_expert_fraction = 0;
  std::vector<double> experts_per_token;  // fraction of tokens processed by 0, 1, 2, ... experts
  double experts_per_token_mean = 0;
  // Expert FFN FLOPs per step over the cluster (forward and backward in training), mean over
  // the samples; wasted: the padding rows of capacity buffers.
  Flops flops_done, flops_wasted;
  // All-to-all bytes a rank moves per step (dispatch and combine, forward and backward, what it
  // sends to other ranks): the busiest rank of each layer summed over the stage's layers (what
  // the step waits for), and the average rank; mean over the samples.
  Bytes a2a_max, a2a_mean;
  // Per GPU, on the stage with the highest peak; dropless token choice adds the activations of
  // the busiest rank's largest sampled expert loads.
  Bytes memory_peak;
  bool fits = true;
};

// How the sampled steps are drawn: on `threads` workers (0: one per hardware thread), each with
// its own copy of the cost model; the results are the same, bit for bit, for any number. `progress`,
// when set, is told ("routing", sampled steps done, stats.samples) after each step, from the
// workers (so it must be thread-safe, and with several workers the counts may arrive out of order).
struct SamplingRun {
  unsigned threads = 0;
  Progress progress;
};

// The scenario's own routing under layout plan `p`.
RoutingEvaluation evaluate_routing(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost,
                                   const RoutingStatsSpec& stats, const SamplingRun& run = {});

// Several routings of one scenario in one layout, on the same draws: a step and layer's expert
// shares, expert choice's affinities and, per top-k, the tokens' choices are drawn once (from the
// same keyed streams a single evaluation uses, so each result equals its evaluate_routing), and
// the variants differ only by their routing. Each variant is `s` with the model's routing
// replaced, in `layout` as checked for that routing.
std::vector<RoutingEvaluation> evaluate_routings(const Scenario& s, const Layout& layout,
                                                 const std::vector<RoutingSpec>& routings,
                                                 const ComputeCostModel& cost, const RoutingStatsSpec& stats,
                                                 const SamplingRun& run = {});

// {kind, top_k, capacity_factor | dropless, group_tokens}: the routing as the outputs echo it.
Json routing_spec_to_json(const RoutingSpec& r);
// Everything but the distribution and seed (those are shared by all variants of a comparison).
Json routing_evaluation_to_json(const RoutingEvaluation& e);

}  // namespace ecsim
