// What a run leaves behind, written atomically (core/atomic_file.hpp): the "ecsim.run/1" JSON that
// `ecsim validate` reads (validate/measured_run.hpp) and a Chrome trace in the simulator's form
// (result/trace_writer.cpp: pid = rank, tid = stream, complete events named by op with label,
// phase, layer, micro-batch, shape, FLOPs and bytes in args), so both open side by side in Perfetto.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "model/model_spec.hpp"
#include "runner/op_timer.hpp"
#include "validate/measured_run.hpp"

namespace ecsim::runner {

struct RunRecord {
  std::string scenario_name;
  std::filesystem::path scenario_file;
  std::string layout;
  std::int64_t layers = 0;  // --layers (0: the model's own)
  std::string device;
  std::string created;      // ISO 8601, UTC
  std::vector<double> step_times_s;
  std::vector<TimedOp> ops;  // one step: each op's median over the measured steps, per rank
  std::vector<int> op_ranks;  // the rank of each op
  double peak_memory_bytes = 0;
  Json model;                      // model_to_json of what trained (the blocks that ran)
  std::int64_t images_per_step = 0;
  Json optimizer;                  // optimizer_to_json of the scenario's recipe, which stepped
};

MeasuredRun to_measured_run(const RunRecord& r);
// The JSON that load_measured_run reads, with the scenario's file.
std::string run_json(const RunRecord& r);
// Shapes, FLOPs and bytes come from the simulator's ops for the same model (m, with its layers),
// micro-batch size and expert-parallel degree, matched by (label, layer): one formula for both.
// The EP all-to-alls ("ep.dispatch", "ep.combine") ran on the compute stream and appear there.
std::string run_trace_json(const RunRecord& r, const ModelSpec& m, std::int64_t images_per_micro_batch,
                           std::int64_t ep);

void write_run_outputs(const RunRecord& r, const ModelSpec& m, std::int64_t images_per_micro_batch, std::int64_t ep,
                       const std::filesystem::path& json_file, const std::filesystem::path& trace_file);

}  // namespace ecsim::runner
