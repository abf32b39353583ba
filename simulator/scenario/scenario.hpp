// A scenario: model, cluster, layout and run settings (format in scenarios/README.md).
// Parsing is strict; every error names the file and the JSON path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/json_input.hpp"
#include "hardware/cluster.hpp"
#include "model/model_spec.hpp"
#include "routing/routing_stats_spec.hpp"
#include "scenario/layout.hpp"

namespace ecsim {

enum class RunMode { kTrain, kInfer };
enum class Dtype { kBf16, kFp32 };
double dtype_bytes(Dtype t);
const char* dtype_name(Dtype t);  // "bf16", "fp32" (as scenarios spell them)

struct OptimizerSpec {
  std::string kind = "adamw";       // "adamw" or "rmsprop_momentum": both keep two fp32 states
  Dtype master = Dtype::kFp32;      // master weights (none when equal to the bf16 weights)
  Dtype moments = Dtype::kFp32;
  Dtype grads = Dtype::kFp32;       // gradient accumulation buffer
};

struct RunSpec {
  RunMode mode = RunMode::kTrain;
  std::int64_t global_batch = 0;    // samples per optimizer step (train) or per request batch (infer)
  std::int64_t sampling_steps = 1;  // inference: denoising steps per request
  std::uint64_t seed = 1;
  OptimizerSpec optimizer;
  std::optional<RoutingStatsSpec> routing_stats;  // per-expert load distribution (routing/)
};

struct Scenario {
  std::string name;
  std::filesystem::path file;
  ModelSpec model;
  std::optional<ClusterSpec> cluster;  // required by simulate/plan, not by `ecsim model`
  std::optional<Layout> layout;
  RunSpec run;
};

Scenario parse_scenario(const Node& root);
Scenario load_scenario(const std::filesystem::path& file);
// `ecsim model` takes a bare model file or a whole scenario.
ModelSpec load_model_or_scenario(const std::filesystem::path& file);
Json scenario_to_json(const Scenario& s);
// run.optimizer as scenario_to_json writes it: kind and the three dtypes.
Json optimizer_to_json(const OptimizerSpec& o);

// The embedded default: EC-DiT-M-64E training, global batch 4096, on 1024 H100.
Scenario default_scenario();
extern const char* const kDefaultScenarioName;

}  // namespace ecsim
