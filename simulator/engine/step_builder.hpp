// Builds the task graph of one training step (or one inference forward pass) of a scenario under
// a layout: every forward and backward operator of every micro-batch on one representative rank
// per pipeline stage, with TP all-gathers and reduce-scatters (sequence parallel), EP dispatch and
// combine all-to-alls, pipeline sends, ZeRO/FSDP parameter gathers and gradient reductions
// overlapped with compute, and the optimizer step.
//
// Representative ranks: with the deterministic (uniform) routing estimate every data-parallel
// and tensor-parallel rank of a stage does the same work, so one rank per stage is simulated and
// its collectives are priced for their whole group. Routing that makes ranks differ (token-choice
// load samples) comes in as a RoutingSample: per MoE layer, the busiest rank's expert rows and
// the all-to-all plan of its traffic matrix (routing/routing_evaluation.hpp draws them).
#pragma once

#include "cost/compute_cost.hpp"
#include "engine/task_graph.hpp"
#include "parallel/layout_plan.hpp"
#include "routing/routing_sample.hpp"

namespace ecsim {

// `routing`: a sampled step's per-layer routing; null (or layers it lacks): uniform loads.
TaskGraph build_step_graph(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost,
                           const RoutingSample* routing = nullptr);

}  // namespace ecsim
