// A measured run as `ecsim-run` writes it (schema "ecsim.run/1"): which scenario and layout ran,
// on what device, the measured step times, and every operator's CUDA-event time per rank, layer,
// micro-batch and pass. Read strictly: errors name the file and the JSON path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json_input.hpp"

namespace ecsim {

struct MeasuredOp {
  std::int64_t rank = 0;
  std::string name;   // kernel family, as the simulator names it ("gemm", "attention_bwd", ...)
  std::string label;  // position in the block ("ffn.fc1")
  std::int64_t layer = -1;
  std::int64_t micro_batch = -1;
  std::string phase;  // "forward", "backward", "recompute", "optimizer"
  double time_ns = 0;
  // Host time inside the op's scope (enqueueing its work, and any wait for the device it makes);
  // absent (0) in run files from before 2026-11-27.
  double host_ns = 0;
  // Host time before the op's scope, since the previous op's (or the step's start): the runner's
  // own work between operators; absent (0) in run files from before the second session of
  // 2026-11-29.
  double host_gap_ns = 0;
};

struct MeasuredRun {
  std::filesystem::path file;
  std::string scenario_name;
  std::string layout;        // the --layout form of what ran
  std::int64_t layers = 0;   // blocks that ran (0: the model's own count)
  std::string device;
  std::vector<double> step_times_s;  // measured steps after warm-up
  std::vector<MeasuredOp> ops;       // one step's operators
  double peak_memory_bytes = 0;      // from the allocator (0 if not recorded)
  // What trained, for `ecsim validate` to check it against the scenario (run_identity.hpp): the
  // model as model_to_json writes it, with the blocks that ran; the images per step; and the
  // optimizer's recipe. Null and 0 in a run file that does not record them.
  Json model;
  std::int64_t images_per_step = 0;
  Json optimizer;  // optimizer_to_json of the recipe that stepped (null: not recorded)
};

inline constexpr const char* kRunSchema = "ecsim.run/1";

MeasuredRun load_measured_run(const std::filesystem::path& file);
Json measured_run_to_json(const MeasuredRun& run);

}  // namespace ecsim
