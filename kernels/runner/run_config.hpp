// What one `ecsim-run` invocation trains: the scenario (with --layers applied), its layout checked
// against the cluster, the CPU-reference model shape the device model is built from, and the
// micro-batching. CPU only, so that tests/kernels can check it on a machine without a GPU.
// Everything the runner cannot execute is an InputError naming the file and the JSON path
// (TP, PP, recompute, ZeRO sharding; expert parallelism of a token-choice model).
// Data and expert parallelism run: ep must divide the experts and dp (plan_layout's checks).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "model_ref/config.hpp"
#include "parallel/layout_plan.hpp"
#include "runner/optimizer_storage.hpp"
#include "scenario/scenario.hpp"

namespace ecsim::runner {

// The command line (main.cpp declares each flag's help and default once, here they are stored).
struct RunOptions {
  std::filesystem::path scenario;
  std::int64_t steps = 10;   // measured steps
  std::int64_t warmup = 3;   // steps run before measuring (cuBLAS heuristics, allocator, clocks)
  std::int64_t layers = 0;   // 0: the model's own count; else the first L blocks (MoE placement kept)
  std::string layout;        // --layout over the scenario's layout; empty: the scenario's
  std::filesystem::path trace;
  std::filesystem::path json;
  std::uint64_t seed = 0;    // 0: the scenario's run.seed
};

struct RunConfig {
  Scenario scenario;  // model.layers = the blocks that run
  LayoutPlan plan;
  model_ref::ModelConfig model;
  std::int64_t layers_override = 0;    // what --layers asked for (0: none), recorded in the run JSON
  std::int64_t images_per_micro_batch = 0;
  std::int64_t micro_batches = 0;      // per data-parallel rank per step
  std::uint64_t seed = 1;
  std::string layout_string;           // the --layout form of what runs
  OptimizerStorage storage = OptimizerStorage::kFp32Master;  // the scenario's optimizer dtypes
  GradientStorage grads = GradientStorage::kFp32;
};

// The model shape of a scenario's EC-DiT; InputError (naming `file` and the JSON path) for what the
// runner's kernels cannot build.
model_ref::ModelConfig model_config_from_spec(const ModelSpec& m, const std::string& file);

// The AdamW state a scenario's run.optimizer dtypes ask for; InputError (naming `file` and the
// JSON path) for the combinations the runner does not keep.
OptimizerStorage optimizer_storage(const OptimizerSpec& o, const std::string& file);

// world_size: the processes the launcher started (1 without MPI); must equal the layout's GPUs.
RunConfig resolve_run_config(const RunOptions& options, std::int64_t world_size);

}  // namespace ecsim::runner
