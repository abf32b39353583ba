// One simulation of a scenario under a layout: builds the step's task graph, runs the event
// engine, and derives what the outputs report (step time, throughput, MFU, memory,
// communication, exposed communication, pipeline bubble, critical path).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "cost/compute_cost.hpp"
#include "engine/event_engine.hpp"
#include "engine/task_graph.hpp"
#include "parallel/layout_plan.hpp"
#include "parallel/memory.hpp"
#include "routing/routing_evaluation.hpp"

namespace ecsim {

constexpr int kCollectiveKindCount = 5;

struct CommTotals {
  std::array<Bytes, kCollectiveKindCount> bytes_by_kind{};  // per GPU per step, by CollectiveKind
  std::array<Bytes, kTierCount> bytes_by_tier{};
  std::array<Seconds, kCollectiveKindCount> busy_by_kind{};  // time its transfers were in flight
};

struct CriticalPathEntry {
  std::string what;   // "backward moe.expert_fc1 (batched_gemm)" or "ep.dispatch (all_to_all)"
  Seconds time;
  double share = 0;   // of the step
  std::int64_t count = 0;
};

struct SimulationResult {
  Scenario scenario;
  LayoutPlan plan;
  std::string cost_description;
  PricingStats pricing;
  TaskGraph graph;
  EngineResult engine;
  Seconds pass_time;   // one run of the graph: a training step, or one denoising forward pass
  Seconds step_time;   // training: = pass_time; inference: sampling_steps passes (one request batch)
  double images_per_s = 0;
  double tokens_per_s = 0;
  double model_flops_per_step = 0;
  double model_tflops_per_gpu = 0;
  double mfu = 0;
  MemoryBreakdown memory;
  CommTotals comm;
  Seconds compute, exposed_comm, bubble;  // on the rank that finishes last
  // Of `compute`, the time its stream held tasks waiting for the host to launch them (the host
  // lane, event_engine.hpp), and that rank's host time issuing its compute; both zero where the
  // cost model prices no host (host_priced false).
  Seconds host_wait, host_issue;
  bool host_priced = false;
  std::int32_t critical_rank = 0;
  std::vector<CriticalPathEntry> critical_top;
  Seconds critical_compute, critical_comm;
  // Step time over sampled routing loads, when the scenario gives run.routing_stats (filled by
  // `ecsim simulate`, not by simulate(), so that the planner's many runs stay deterministic and fast).
  std::optional<RoutingEvaluation> routing;
};

SimulationResult simulate(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost);

}  // namespace ecsim
