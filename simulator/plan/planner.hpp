// `ecsim plan`: for each GPU count, every valid layout (enumerate.hpp) is checked for memory with
// headroom, ranked by the closed-form screen (screen.hpp), and the screen's best are simulated
// by the event engine (result/simulation.hpp), which has the last word. Across GPU counts, each
// simulated layout's time to train is set against its GPU-hours, and the Pareto front of the two
// is kept. Work is spread over a thread pool; results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.hpp"
#include "cost/compute_cost.hpp"
#include "parallel/memory.hpp"
#include "plan/screen.hpp"

namespace ecsim {

// What `ecsim plan` can be told; the defaults here are the only place they are stated (the CLI
// binds its flags to these members and shows them in --help).
struct PlanSettings {
  std::vector<std::int64_t> gpu_counts;  // replaces the scenario's cluster GPU count, one run each
  std::int64_t top = 10;                 // layouts printed per GPU count
  double headroom = 0.9;                 // share of HBM a layout may use (allocator slack, fragmentation)
  std::int64_t simulate_factor = 4;      // the engine simulates the screen's best top x this per GPU count
  unsigned threads = 0;                  // 0: one worker per hardware thread
  // EC-DiT's training run: 800K steps of the global batch (ANCHORS.md); time to train is this
  // many steps of the scenario's global batch.
  std::int64_t train_steps = 800000;
  std::optional<Profile> profile;  // kernel prices; none: the analytic model of the cluster's GPU
  // Called from the workers (thread-safe please) as items finish: phase "screen" or "simulate".
  Progress progress;
};

// Throws InputError naming the setting when a value is out of range.
void check_plan_settings(const PlanSettings& settings);

enum class Limiter { kCompute, kExposedComm, kBubble, kMemory };
const char* limiter_name(Limiter l);  // "compute", "exposed_comm", "bubble", "memory"

struct PlanCandidate {
  std::int64_t gpus = 0;
  LayoutPlan plan;
  MemoryBreakdown memory;
  Bytes memory_limit;  // headroom x HBM
  ScreenEstimate screen;
  // From the event engine:
  Seconds step_time;
  double images_per_s = 0;
  double mfu = 0;
  Seconds compute, exposed_comm, bubble;
  Limiter limiter = Limiter::kCompute;
  Seconds time_to_train;
  double gpu_hours = 0;

  bool fits() const { return memory.peak() <= memory_limit; }
  double screen_vs_engine() const { return screen.step_time.value / step_time.value; }
};

struct PlanCounts {
  std::int64_t enumerated = 0;
  std::map<std::string, std::int64_t> invalid_by_reason;
  std::int64_t not_fitting = 0;
  std::int64_t screened = 0;  // valid layouts that fit, each estimated by the screen
  std::int64_t simulated = 0;
  void add(const PlanCounts& o);
};

struct PlanResult {
  Scenario scenario;
  std::vector<std::int64_t> gpu_counts;
  std::int64_t top = 0;
  double headroom = 0;
  std::int64_t train_steps = 0;
  std::string cost_description;
  std::map<std::int64_t, PlanCounts> counts_by_gpus;
  PlanCounts counts;                     // over all GPU counts
  std::vector<PlanCandidate> candidates;  // the simulated ones, by images/s (best first)
  std::vector<std::size_t> pareto;       // indices into candidates, by time to train
  double median_ratio = 0, min_ratio = 0, max_ratio = 0;  // screen / engine step time over candidates
  // The scenario's own layout on the scenario's GPU count (when that count was asked for), or
  // why it could not be built there.
  std::optional<PlanCandidate> scenario_layout;
  std::string scenario_layout_note;
};

PlanResult run_plan(const Scenario& s, const PlanSettings& settings);

// Of points (time to train, GPU-hours), those no other point beats in both, by time to train.
std::vector<std::size_t> pareto_front(const std::vector<PlanCandidate>& candidates);

}  // namespace ecsim
