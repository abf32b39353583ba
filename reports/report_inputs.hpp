// The files a report is made from, recognized by their "schema" key:
//
//   ecsim.result/1      `ecsim simulate --json`: one layout's step time, memory, communication
//   ecsim.plan/1        `ecsim plan --json`: ranked candidate layouts and the Pareto front
//   ecsim.routing/1     `ecsim compare-routing --json`: routing variants and step-time spread
//   ecsim.validation/1  `ecsim validate --json`: predicted against measured, per operator and step
//
// Reading is strict where the report needs a value: a missing key or a wrong type is an
// InputError naming the file and the JSON path (exit 2). Keys the report does not use are left
// alone, so these readers accept files from newer writers. Quantities are SI base units
// (seconds, bytes); fractions (mfu, error, mape, tokens_dropped_fraction) are 0..1.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ecsim {

inline constexpr std::array<const char*, 6> kMemoryKinds{"params", "grads", "optimizer", "activations",
                                                         "comm_buffers", "workspace"};
inline constexpr std::array<const char*, 5> kCollectiveKinds{"all_reduce", "all_gather", "reduce_scatter",
                                                             "all_to_all", "p2p"};
inline constexpr std::array<const char*, 2> kTiers{"nvlink", "network"};

struct ScenarioRef {
  std::string name;
  std::string file;  // optional in every kind (empty when absent)
};

// Where one step's time goes on the critical rank; the three parts add up to the step time.
struct StepBreakdown {
  double compute_s = 0;
  double exposed_comm_s = 0;
  double bubble_s = 0;
  double total() const { return compute_s + exposed_comm_s + bubble_s; }
};

// What priced a simulation's kernels: the cost model's description ("cost_model"), and the calls a
// profile left to the analytic roofline, as `describe_outside` words them ("42 kernel calls: gemm
// (bf16) x28, e.g. ..."); empty where none was, or in files without them (the list is written since
// 2026-11-29; the report's fixtures are hand-written without a cost model).
struct Pricing {
  std::string costs;
  std::string outside_profile;
};

struct ResultInput {
  std::string file;
  ScenarioRef scenario;
  std::string layout;  // "dp=..,tp=..,..."
  double step_time_s = 0, images_per_s = 0, mfu = 0;
  double memory_peak_bytes = 0, hbm_bytes = 0;
  bool fits = false;
  std::array<double, kMemoryKinds.size()> memory_bytes{};        // per GPU, by kind
  std::array<double, kCollectiveKinds.size()> comm_bytes{};      // per GPU per step, by collective
  std::array<double, kTiers.size()> tier_bytes{};                // per GPU per step, by tier
  double exposed_comm_s = 0;
  StepBreakdown breakdown;
  // Of the breakdown's compute, the time the GPU waited for the host's launches, where the result
  // priced a host lane ("host": {"priced": true, "gpu_wait_s"}; absent in results from before it).
  std::optional<double> host_wait_s;
  Pricing pricing;
};

struct PlanCandidate {
  std::int64_t gpus = 0;
  std::string layout;
  double step_time_s = 0, images_per_s = 0, mfu = 0;
  double memory_peak_bytes = 0, hbm_bytes = 0;
  bool fits = false;
  std::string limiter;  // what bounds this layout ("compute", "network", "memory", ...)
  StepBreakdown breakdown;
  double time_to_train_s = 0, gpu_hours = 0;
};

struct ParetoPoint {
  std::int64_t gpus = 0;
  std::string layout;
  double time_to_train_s = 0, gpu_hours = 0;
};

struct PlanInput {
  std::string file;
  ScenarioRef scenario;
  std::vector<std::int64_t> gpus;          // cluster sizes searched
  std::vector<PlanCandidate> candidates;   // ranked, best first
  std::vector<ParetoPoint> pareto;
};

struct StepTimeSpread {
  double deterministic = 0, mean = 0, p50 = 0, p95 = 0, p99 = 0;
};

struct RoutingVariant {
  std::string name;
  std::string label;                       // optional display name ("EC f_c=1 (= top-1)"); empty if absent
  // As the model's routing is echoed: "token_choice" needs top_k; expert choice has no top_k
  // (each expert picks its tokens), so there it is optional. capacity_factor is required unless
  // "dropless" is true.
  std::string kind;                        // "expert_choice", "token_choice"
  std::optional<std::int64_t> top_k;
  std::optional<double> capacity_factor;
  bool dropless = false;
  double flops_done = 0, flops_wasted = 0;
  double tokens_dropped_fraction = 0;
  std::optional<double> tokens_without_expert_fraction;  // optional: tokens no expert chose (expert choice)
  double a2a_bytes_max = 0, a2a_bytes_mean = 0;  // per rank
  StepTimeSpread step_time_s;
  double memory_peak_bytes = 0;
};

struct RoutingInput {
  std::string file;
  ScenarioRef scenario;
  std::string layout;
  std::int64_t seed = 0;
  std::vector<RoutingVariant> variants;
};

struct Comparison {
  std::string name;       // operator name, or "step N"
  std::int64_t step = 0;  // steps only: the step's number
  double predicted_s = 0, measured_s = 0;
  double error = 0;  // as written by `ecsim validate`: (predicted - measured) / measured
};

struct ValidationInput {
  std::string file;
  ScenarioRef scenario;
  Pricing pricing;
  std::vector<Comparison> per_op;
  std::vector<Comparison> steps;
  double mape = 0;
  std::vector<std::string> warnings;  // "warnings" (absent from files written before it)
};

struct ReportInputs {
  std::vector<ResultInput> results;
  std::vector<PlanInput> plans;
  std::vector<RoutingInput> routings;
  std::vector<ValidationInput> validations;
  std::vector<std::string> files;  // every file, in the order given
};

// Reads each file and sorts it by its schema. Throws InputError (file and JSON path) for a
// missing file, bad JSON, an unknown schema or a missing key.
ReportInputs load_report_inputs(const std::vector<std::string>& files);

}  // namespace ecsim
