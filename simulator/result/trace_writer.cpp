#include <sstream>

#include "result/outputs.hpp"

namespace ecsim {
namespace {

Json shape_json(const OpShape& shape) {
  Json j = Json::object();
  for (const auto& [k, v] : shape) j[k] = v;
  return j;
}

// The host lane's thread, after the streams.
constexpr int kHostTid = kStreamCount;

}  // namespace

std::string trace_json(const SimulationResult& r) {
  const auto& g = r.graph;
  Json events = Json::array();
  // Names for processes (ranks) and threads (streams).
  for (std::int32_t rank = 0; rank < g.ranks(); ++rank) {
    const auto pid = g.rank_ids[static_cast<std::size_t>(rank)];
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid},
                      {"args", {{"name", "rank " + std::to_string(pid) + " (stage " +
                                             std::to_string(g.rank_stage[static_cast<std::size_t>(rank)]) + ")"}}}});
    for (int s = 0; s < kStreamCount; ++s) {
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", s},
                        {"args", {{"name", stream_name(static_cast<StreamKind>(s))}}}});
    }
    if (r.host_priced) {
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", kHostTid},
                        {"args", {{"name", "host (issuing the compute stream's kernels)"}}}});
    }
  }
  constexpr double kNanosPerMicro = 1e3;  // trace timestamps are microseconds
  for (std::size_t t = 0; t < g.tasks.size(); ++t) {
    const Task& task = g.tasks[t];
    const auto& tt = r.engine.timing[t];
    Json args = {{"label", task.label}, {"phase", phase_name(task.phase)}, {"layer", task.layer},
                 {"micro_batch", task.micro_batch}, {"chunk", task.chunk}, {"bytes", task.bytes.value}};
    if (task.is_comm) {
      const auto& plan = g.plans[static_cast<std::size_t>(task.plan)];
      args["algorithm"] = algorithm_name(plan.algorithm);
    } else {
      args["flops"] = task.flops.value;
      if (task.op >= 0) args["shape"] = shape_json(g.ops[static_cast<std::size_t>(task.op)].shape);
    }
    events.push_back({{"name", task.name},
                      {"cat", phase_name(task.phase)},
                      {"ph", "X"},
                      {"pid", g.rank_ids[static_cast<std::size_t>(task.rank)]},
                      {"tid", static_cast<int>(task.stream)},
                      {"ts", static_cast<double>(tt.start.value) / kNanosPerMicro},
                      {"dur", static_cast<double>((tt.finish - tt.start).value) / kNanosPerMicro},
                      {"args", args}});
    if (r.host_priced && !task.is_comm) {
      // The host lane (event_engine.hpp): when the host issued the task, and how long the stream
      // waited for it.
      events.back()["args"]["host_wait_ns"] = tt.host_wait().value;
      events.push_back({{"name", task.name},
                        {"cat", "host"},
                        {"ph", "X"},
                        {"pid", g.rank_ids[static_cast<std::size_t>(task.rank)]},
                        {"tid", kHostTid},
                        {"ts", static_cast<double>(tt.issue.value) / kNanosPerMicro},
                        {"dur", static_cast<double>(task.host.value) / kNanosPerMicro},
                        {"args", {{"label", task.label}, {"phase", phase_name(task.phase)}}}});
    }
  }
  Json doc = {{"traceEvents", events},
              {"displayTimeUnit", "ms"},
              {"otherData", {{"schema", "ecsim.trace/1"}, {"source", "simulated"}, {"scenario", r.scenario.name},
                             {"layout", layout_to_string(r.plan.layout)}}}};
  return doc.dump() + "\n";
}

std::string operator_csv(const SimulationResult& r) {
  std::ostringstream os;
  os << "rank,stream,phase,name,label,layer,micro_batch,chunk,start_ns,duration_ns,flops,bytes\n";
  const auto& g = r.graph;
  for (std::size_t t = 0; t < g.tasks.size(); ++t) {
    const Task& task = g.tasks[t];
    const auto& tt = r.engine.timing[t];
    os << g.rank_ids[static_cast<std::size_t>(task.rank)] << ',' << stream_name(task.stream) << ','
       << phase_name(task.phase) << ',' << task.name << ',' << task.label << ',' << task.layer << ','
       << task.micro_batch << ',' << task.chunk << ',' << tt.start.value << ',' << (tt.finish - tt.start).value << ','
       << task.flops.value << ',' << task.bytes.value << '\n';
  }
  return os.str();
}

}  // namespace ecsim
