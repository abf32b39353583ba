#include "runner/run_output.hpp"

#include <map>
#include <utility>

#include "core/atomic_file.hpp"
#include "model/model_ops.hpp"

namespace ecsim::runner {
namespace {

constexpr double kNanosPerMicro = 1e3;  // trace timestamps are microseconds
constexpr int kComputeStream = 0;       // the simulator's StreamKind::kCompute

}  // namespace

MeasuredRun to_measured_run(const RunRecord& r) {
  MeasuredRun run;
  run.file = r.scenario_file;
  run.scenario_name = r.scenario_name;
  run.layout = r.layout;
  run.layers = r.layers;
  run.device = r.device;
  run.step_times_s = r.step_times_s;
  for (std::size_t i = 0; i < r.ops.size(); ++i) {
    const TimedOp& op = r.ops[i];
    run.ops.push_back(
        {r.op_ranks[i], op.name, op.label, op.layer, op.micro_batch, phase_name(op.phase), op.time_ns, op.host_ns,
         op.host_gap_ns});
  }
  run.peak_memory_bytes = r.peak_memory_bytes;
  run.model = r.model;
  run.images_per_step = r.images_per_step;
  run.optimizer = r.optimizer;
  return run;
}

std::string run_json(const RunRecord& r) {
  Json j = measured_run_to_json(to_measured_run(r));
  j["scenario"]["file"] = r.scenario_file.string();
  j["created"] = r.created;
  return j.dump(2) + "\n";
}

std::string run_trace_json(const RunRecord& r, const ModelSpec& m, std::int64_t images_per_micro_batch,
                           std::int64_t ep) {
  OpContext ctx;
  ctx.samples = images_per_micro_batch;
  ctx.ep = ep;  // the expert ops' shapes: E/ep experts of ep groups C rows each
  std::map<std::pair<std::string, std::int64_t>, Op> ops;  // (label, layer) -> the simulator's op
  for (Op& op : model_ops(m, ctx)) ops.emplace(std::make_pair(op.label, op.layer), std::move(op));

  Json events = Json::array();
  std::map<int, bool> ranks;
  for (int rank : r.op_ranks) ranks[rank] = true;
  for (const auto& [rank, _] : ranks) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", rank},
                      {"args", {{"name", "rank " + std::to_string(rank) + " (measured)"}}}});
    events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", rank}, {"tid", kComputeStream},
                      {"args", {{"name", "compute"}}}});
  }
  for (std::size_t i = 0; i < r.ops.size(); ++i) {
    const TimedOp& op = r.ops[i];
    Json args = {{"label", op.label}, {"phase", phase_name(op.phase)}, {"layer", op.layer},
                 {"micro_batch", op.micro_batch}};
    const auto it = ops.find({op.label, op.layer});
    if (it != ops.end()) {
      const Op& s = it->second;
      const bool bwd = op.phase == Phase::kBackward;
      Json shape = Json::object();
      for (const auto& [k, v] : s.shape) shape[k] = v;
      args["shape"] = shape;
      args["flops"] = bwd ? (s.bwd_input + s.bwd_weight).value : s.fwd.value;
      args["bytes"] = bwd ? (s.bwd_read + s.bwd_written).value : (s.fwd_read + s.fwd_written).value;
    }
    events.push_back({{"name", op.name},
                      {"cat", phase_name(op.phase)},
                      {"ph", "X"},
                      {"pid", r.op_ranks[i]},
                      {"tid", kComputeStream},
                      {"ts", op.start_ns / kNanosPerMicro},
                      {"dur", op.time_ns / kNanosPerMicro},
                      {"args", args}});
  }
  Json doc = {{"traceEvents", events},
              {"displayTimeUnit", "ms"},
              {"otherData", {{"schema", "ecsim.trace/1"}, {"source", "measured"}, {"scenario", r.scenario_name},
                             {"layout", r.layout}, {"device", r.device}}}};
  return doc.dump() + "\n";
}

void write_run_outputs(const RunRecord& r, const ModelSpec& m, std::int64_t images_per_micro_batch, std::int64_t ep,
                       const std::filesystem::path& json_file, const std::filesystem::path& trace_file) {
  if (!json_file.empty()) write_file_atomic(json_file, run_json(r));
  if (!trace_file.empty()) write_file_atomic(trace_file, run_trace_json(r, m, images_per_micro_batch, ep));
}

}  // namespace ecsim::runner
