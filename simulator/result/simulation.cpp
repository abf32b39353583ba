#include "result/simulation.hpp"

#include <algorithm>
#include <map>

#include "engine/critical_path.hpp"
#include "engine/step_builder.hpp"
#include "model/accounting.hpp"

namespace ecsim {
namespace {

Seconds span(const TaskTiming& t) { return to_seconds(t.finish - t.start); }

std::string describe(const Task& t) {
  if (t.is_comm) return t.label + " (" + t.name + ")";
  return std::string(phase_name(t.phase)) + " " + t.label + " (" + t.name + ")";
}

// Splits the idle time of `rank`'s compute stream (beyond each task's launch gap, which counts as
// compute) into exposed communication and pipeline bubble, by what released each compute task: a
// collective of its own (exposed communication), or work arriving from another stage (bubble,
// except while the transfer itself is in flight).
void attribute_idle(SimulationResult& out, const std::vector<TaskId>& binding) {
  const auto& g = out.graph;
  const auto& timing = out.engine.timing;
  std::vector<TaskId> compute_tasks;
  for (std::size_t t = 0; t < g.tasks.size(); ++t) {
    if (g.tasks[t].rank == out.critical_rank && g.tasks[t].stream == StreamKind::kCompute) {
      compute_tasks.push_back(static_cast<TaskId>(t));
    }
  }
  std::sort(compute_tasks.begin(), compute_tasks.end(), [&](TaskId a, TaskId b) {
    return timing[static_cast<std::size_t>(a)].start < timing[static_cast<std::size_t>(b)].start;
  });
  std::int64_t busy = 0, exposed = 0, bubble = 0, host_wait = 0, host_issue = 0;
  Nanos cursor{0};
  for (TaskId t : compute_tasks) {
    const auto& tt = timing[static_cast<std::size_t>(t)];
    // The launch gap before a task (Task::lead_in) and any wait for the host to launch it count
    // as its compute: the stream is the task's.
    const std::int64_t lead = g.tasks[static_cast<std::size_t>(t)].lead_in.value + tt.host_wait_before.value;
    busy += (tt.finish - tt.start).value + lead;
    host_wait += tt.host_wait().value;
    host_issue += g.tasks[static_cast<std::size_t>(t)].host.value;
    const std::int64_t gap = (tt.start - cursor).value - lead;
    if (gap > 0) {
      const TaskId b = binding[static_cast<std::size_t>(t)];
      const Task* bt = b >= 0 ? &g.tasks[static_cast<std::size_t>(b)] : nullptr;
      if (bt != nullptr && bt->is_comm && bt->rank == out.critical_rank && bt->stream != StreamKind::kPp) {
        exposed += gap;
      } else if (bt != nullptr && bt->is_comm) {
        // A pipeline transfer: in flight is communication, waiting for it to start is bubble.
        const auto& bb = timing[static_cast<std::size_t>(b)];
        const std::int64_t in_flight = std::min(gap, (bb.finish - std::max(bb.start, cursor)).value);
        exposed += std::max<std::int64_t>(0, in_flight);
        bubble += gap - std::max<std::int64_t>(0, in_flight);
      } else {
        bubble += gap;
      }
    }
    cursor = std::max(cursor, tt.finish);
  }
  // After the last kernel: collectives still finishing (gradient reduction) are exposed.
  exposed += std::max<std::int64_t>(0, (out.engine.makespan - cursor).value);
  out.compute = to_seconds(Nanos{busy});
  out.exposed_comm = to_seconds(Nanos{exposed});
  out.bubble = to_seconds(Nanos{bubble});
  out.host_wait = to_seconds(Nanos{host_wait});
  out.host_issue = to_seconds(Nanos{host_issue});
}

void sum_communication(SimulationResult& out) {
  const auto& g = out.graph;
  for (std::size_t t = 0; t < g.tasks.size(); ++t) {
    const Task& task = g.tasks[t];
    if (!task.is_comm || task.rank != out.critical_rank) continue;
    const CollectivePlan& plan = g.plans[static_cast<std::size_t>(task.plan)];
    const auto k = static_cast<std::size_t>(plan.kind);
    for (int tier = 0; tier < kTierCount; ++tier) {
      const Bytes b = plan.bytes_on(static_cast<Tier>(tier));
      out.comm.bytes_by_kind[k] += b;
      out.comm.bytes_by_tier[static_cast<std::size_t>(tier)] += b;
    }
    out.comm.busy_by_kind[k] += span(out.engine.timing[t]);
  }
}

void summarize_critical_path(SimulationResult& out, const std::vector<TaskId>& path) {
  std::map<std::string, CriticalPathEntry> by_what;
  for (TaskId t : path) {
    const Task& task = out.graph.tasks[static_cast<std::size_t>(t)];
    // A compute task's launch gap and its wait for the host's launches are on the path with it.
    const TaskTiming& tt = out.engine.timing[static_cast<std::size_t>(t)];
    const Seconds d = span(tt) + to_seconds(task.lead_in + tt.host_wait_before);
    auto& e = by_what[describe(task)];
    e.what = describe(task);
    e.time += d;
    ++e.count;
    (task.is_comm ? out.critical_comm : out.critical_compute) += d;
  }
  for (auto& [what, e] : by_what) {
    e.share = e.time.value / out.pass_time.value;
    out.critical_top.push_back(e);
  }
  std::sort(out.critical_top.begin(), out.critical_top.end(), [](const auto& a, const auto& b) {
    return a.time != b.time ? a.time > b.time : a.what < b.what;
  });
  if (out.critical_top.size() > 10) out.critical_top.resize(10);
}

}  // namespace

SimulationResult simulate(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost) {
  SimulationResult out;
  out.scenario = s;
  out.plan = p;
  out.graph = build_step_graph(s, p, cost);
  out.engine = run_engine(out.graph);
  out.cost_description = cost.description();
  out.host_priced = cost.prices_host();
  out.pricing = cost.stats();
  out.pass_time = to_seconds(out.engine.makespan);
  const bool training = p.training;
  out.step_time = training ? out.pass_time : out.pass_time * static_cast<double>(s.run.sampling_steps);

  const ModelSummary ms = summarize_model(s.model);
  const double batch = static_cast<double>(s.run.global_batch);
  out.images_per_s = batch / out.step_time.value;
  out.tokens_per_s = out.images_per_s * static_cast<double>(training ? ms.tokens_train : ms.tokens_infer);
  out.model_flops_per_step = training ? ms.train_flops_per_sample.value * batch
                                      : ms.infer_flops_per_sample.value * batch * static_cast<double>(s.run.sampling_steps);
  const FlopsPerSecond per_gpu = rate(Flops{out.model_flops_per_step / static_cast<double>(p.gpus)}, out.step_time);
  out.model_tflops_per_gpu = per_gpu.value / parse_flops_rate("1TFLOPS").value;
  out.mfu = per_gpu.value / s.cluster->gpu.peak_bf16.value;
  out.memory = peak_memory(s, p);

  for (std::size_t t = 0; t < out.graph.tasks.size(); ++t) {
    if (out.engine.timing[t].finish == out.engine.makespan) {
      out.critical_rank = out.graph.tasks[t].rank;
      break;
    }
  }
  const auto binding = binding_predecessors(out.graph, out.engine);
  attribute_idle(out, binding);
  sum_communication(out);
  summarize_critical_path(out, critical_path(out.engine, binding));
  return out;
}

}  // namespace ecsim
