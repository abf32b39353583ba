#include "validate/validation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <tuple>

#include "result/outputs.hpp"
#include "validate/run_identity.hpp"

namespace ecsim {
namespace {

using MatchKey = std::tuple<std::int64_t, std::string, std::int64_t, std::int64_t, std::string>;

std::string kind_of(const std::string& name, const std::string& phase) { return name + " (" + phase + ")"; }

// What ecsim-run times (kernels/runner/op_plan.hpp): every compute task and the expert-parallel
// all-to-alls ("ep.dispatch", "ep.combine"), which it runs on its compute stream. Gradient
// reductions and TP / PP transfers are not timed per op there, so they are not matched.
bool measured_by_runner(const Task& t) { return !t.is_comm || t.label.rfind("ep.", 0) == 0; }

// Measured time between operators beyond the predicted (which holds collectives the runner does not
// time per op) by more than this share of the step is reported as GPU idle time; with
// the host's time inside the operators above kLaunchBoundShare of the step, as launch-bound (the
// host, not the GPU, sets the pace). Thresholds for the words printed only.
constexpr double kIdleShare = 0.05;
constexpr double kLaunchBoundShare = 0.8;

}  // namespace

Validation validate_run(const Scenario& scenario, const MeasuredRun& run, const ComputeCostModel& cost) {
  Scenario s = scenario;
  if (run.layers > 0) {
    // A slice of the model: the blocks that ran, with the MoE placement of the full model.
    s.model.layers = run.layers;
  }
  require_run_of(s, run);
  const LayoutPlan plan = plan_layout(s, apply_layout_flag(s.layout.value_or(Layout{}), run.layout), "--layout");
  // The runner records an event pair around every operator: its host issues them too.
  ComputeCostModel timed = cost;
  timed.time_operators(true);
  const SimulationResult sim = simulate(s, plan, timed);

  Validation v;
  v.scenario_name = s.name;
  v.run_file = run.file.string();
  v.device = run.device;
  v.layout = layout_to_string(plan.layout);
  v.cost_description = sim.cost_description;
  v.pricing = sim.pricing;
  v.predicted_step_s = sim.step_time.value;
  v.host_priced = sim.host_priced;
  v.predicted_gpu_wait_for_host_s = sim.host_wait.value;
  v.predicted_peak_memory_bytes = sim.memory.peak().value;
  const MemoryBreakdown& mem = sim.memory;
  v.predicted_frozen_bytes = mem.frozen_params * kBf16Bytes;
  v.predicted_buffers_bytes = (mem.params + mem.grads + mem.optimizer + mem.activations).value - v.predicted_frozen_bytes;
  v.predicted_context_and_comm_bytes = (mem.workspace + mem.comm_buffers).value;
  v.measured_peak_memory_bytes = run.peak_memory_bytes;

  // Predicted tasks that the runner measures, by key; a measured rank maps to its stage's simulated rank.
  std::map<MatchKey, std::vector<std::size_t>> predicted;
  for (std::size_t t = 0; t < sim.graph.tasks.size(); ++t) {
    const Task& task = sim.graph.tasks[t];
    if (!measured_by_runner(task)) continue;
    const std::int64_t stage = sim.graph.rank_stage[static_cast<std::size_t>(task.rank)];
    predicted[{stage, task.label, task.layer, task.micro_batch, phase_name(task.phase)}].push_back(t);
  }
  const std::int64_t ranks_per_stage = plan.layout.dp * plan.layout.tp;
  std::map<std::string, KindError> kinds;
  std::map<MatchKey, std::size_t> used;
  std::vector<MatchedOp> matched;
  for (const MeasuredOp& op : run.ops) {
    const MatchKey key{op.rank / ranks_per_stage, op.label, op.layer, op.micro_batch, op.phase};
    auto it = predicted.find(key);
    std::size_t& n = used[key];
    if (it == predicted.end() || n >= it->second.size()) {
      ++v.unmatched_measured;
      continue;
    }
    const Task& task = sim.graph.tasks[it->second[n++]];
    if (task.name != op.name) {
      ++v.unmatched_measured;
      continue;
    }
    const auto& timing = sim.engine.timing[it->second[n - 1]];
    const MatchedOp pair{op.layer, op.phase, to_seconds(timing.finish - timing.start).value,
                         op.time_ns / kNanosPerSecond};
    if (op.rank == run.ops.front().rank) v.predicted_host_in_ops_s += to_seconds(task.host).value;
    auto& k = kinds[kind_of(op.name, op.phase)];
    k.kind = kind_of(op.name, op.phase);
    k.predicted_s += pair.predicted_s;
    k.measured_s += pair.measured_s;
    k.predicted_host_s += to_seconds(task.host).value;
    k.measured_host_s += op.host_ns / kNanosPerSecond;
    ++k.count;
    ++v.matched;
    // One rank's blocks: every rank of a data- or expert-parallel run does the same work.
    if (op.rank == run.ops.front().rank) matched.push_back(pair);
  }
  // Ranks that were measured: every simulated op of their stages should have been matched.
  std::map<std::int64_t, bool> measured_stages;
  for (const MeasuredOp& op : run.ops) measured_stages[op.rank / ranks_per_stage] = true;
  std::int64_t expected = 0;
  for (const auto& [key, tasks] : predicted) {
    if (measured_stages.count(std::get<0>(key))) expected += static_cast<std::int64_t>(tasks.size());
  }
  v.unmatched_predicted = expected - v.matched;
  if (plan.layout.pp == 1) {
    const OpContext ctx{plan.layout.mbs, true, plan.layout.tp, plan.layout.ep, {}};
    v.blocks = block_times(matched, s.model, ctx);
  }

  for (auto& [name, k] : kinds) v.per_kind.push_back(k);
  std::sort(v.per_kind.begin(), v.per_kind.end(), [](const KindError& a, const KindError& b) {
    const double da = std::fabs(a.predicted_s - a.measured_s), db = std::fabs(b.predicted_s - b.measured_s);
    return da != db ? da > db : a.kind < b.kind;
  });
  double sum = 0;
  for (std::size_t i = 0; i < run.step_times_s.size(); ++i) {
    StepError e{static_cast<std::int64_t>(i), v.predicted_step_s, run.step_times_s[i]};
    v.steps.push_back(e);
    sum += std::fabs(e.error());
    v.measured_step_mean_s += run.step_times_s[i];
  }
  v.measured_step_mean_s /= static_cast<double>(run.step_times_s.size());
  v.mape = sum / static_cast<double>(run.step_times_s.size());
  double measured_ops = 0, predicted_ops = 0;
  for (const MeasuredOp& op : run.ops) {
    if (op.rank != run.ops.front().rank) continue;
    measured_ops += op.time_ns / kNanosPerSecond;
    v.host_in_ops_s += op.host_ns / kNanosPerSecond;
    v.host_between_ops_s += op.host_gap_ns / kNanosPerSecond;
  }
  for (const MatchedOp& m : matched) predicted_ops += m.predicted_s;
  // Rounding (each task's time is whole nanoseconds) can leave a hair below zero.
  v.measured_between_ops_s = std::max(0.0, v.measured_step_mean_s - measured_ops);
  v.predicted_between_ops_s = std::max(0.0, v.predicted_step_s - predicted_ops);
  return v;
}

Json validation_to_json(const Validation& v) {
  Json per_op = Json::array();
  for (const auto& k : v.per_kind) {
    per_op.push_back({{"name", k.kind}, {"predicted_s", k.predicted_s}, {"measured_s", k.measured_s},
                      {"error", k.error()}, {"count", k.count}, {"predicted_host_s", k.predicted_host_s},
                      {"measured_host_s", k.measured_host_s}});
  }
  Json steps = Json::array();
  for (const auto& s : v.steps) {
    steps.push_back({{"step", s.step}, {"predicted_s", s.predicted_s}, {"measured_s", s.measured_s}, {"error", s.error()}});
  }
  return {{"schema", "ecsim.validation/1"},
          {"scenario", {{"name", v.scenario_name}}},
          {"run", {{"file", v.run_file}, {"device", v.device}, {"layout", v.layout}}},
          {"cost_model", v.cost_description},
          {"pricing", pricing_to_json(v.pricing)},
          {"warnings", v.warnings},
          {"per_op", per_op},
          {"steps", steps},
          {"mape", v.mape},
          {"step_time", {{"predicted_s", v.predicted_step_s}, {"measured_mean_s", v.measured_step_mean_s},
                         {"error", v.predicted_step_s / v.measured_step_mean_s - 1}}},
          {"blocks", block_times_to_json(v.blocks)},
          {"between_operators", {{"predicted_s", v.predicted_between_ops_s}, {"measured_s", v.measured_between_ops_s}}},
          {"host_in_operators_s", v.host_in_ops_s},
          {"host", {{"priced", v.host_priced},
                    {"predicted_in_operators_s", v.predicted_host_in_ops_s},
                    {"predicted_gpu_wait_s", v.predicted_gpu_wait_for_host_s},
                    {"measured_in_operators_s", v.host_in_ops_s},
                    {"measured_between_operators_s", v.host_between_ops_s}}},
          {"memory", {{"predicted_peak_bytes", v.predicted_peak_memory_bytes},
                      {"predicted_buffers_bytes", v.predicted_buffers_bytes},
                      {"predicted_frozen_bytes", v.predicted_frozen_bytes},
                      {"predicted_context_and_comm_bytes", v.predicted_context_and_comm_bytes},
                      {"measured_peak_bytes", v.measured_peak_memory_bytes}}},
          {"matching", {{"matched", v.matched}, {"unmatched_measured", v.unmatched_measured},
                        {"unmatched_predicted", v.unmatched_predicted}}}};
}

void print_validation(const Validation& v, std::ostream& out) {
  char line[200];
  out << "validation of " << v.scenario_name << " against " << v.run_file << " (" << v.device << ")\n";
  out << "  layout " << v.layout << "\n  costs  " << v.cost_description << "\n";
  if (v.pricing.partly_outside()) {
    out << "  outside the profile, priced by the analytic roofline: " << v.pricing.from_roofline << " kernel calls: "
        << describe_outside(v.pricing.outside) << "\n";
  }
  for (const std::string& w : v.warnings) out << "  WARNING: " << w << "\n";
  out << "\n";
  std::snprintf(line, sizeof line, "step time: predicted %.3f ms, measured %.3f ms (mean of %zu), error %+.1f%%, MAPE %.1f%%\n",
                v.predicted_step_s * 1e3, v.measured_step_mean_s * 1e3, v.steps.size(),
                100 * (v.predicted_step_s / v.measured_step_mean_s - 1), 100 * v.mape);
  out << line;
  if (v.measured_peak_memory_bytes > 0) {
    // The runner's allocator peak holds its own buffers only: compare those, and show the rest.
    out << "peak memory: predicted " << format_bytes(Bytes{v.predicted_peak_memory_bytes}, 4) << " = buffers "
        << format_bytes(Bytes{v.predicted_buffers_bytes}, 4)
        << " (trained parameters, gradients, optimizer states, activations) + frozen remainder "
        << format_bytes(Bytes{v.predicted_frozen_bytes}, 4) << " (not built by the runner) + "
        << format_bytes(Bytes{v.predicted_context_and_comm_bytes}, 4)
        << " (CUDA context, workspaces, NCCL buffers: outside the runner's allocator)\n";
    std::snprintf(line, sizeof line, "buffers: predicted %s, measured %s (the runner's allocator peak), error %+.1f%%\n",
                  format_bytes(Bytes{v.predicted_buffers_bytes}, 4).c_str(),
                  format_bytes(Bytes{v.measured_peak_memory_bytes}, 4).c_str(),
                  100 * (v.predicted_buffers_bytes / v.measured_peak_memory_bytes - 1));
    out << line;
  }
  out << "operators matched " << v.matched << ", unmatched: " << v.unmatched_measured << " measured, "
      << v.unmatched_predicted << " predicted\n";
  const double step = v.measured_step_mean_s;
  const bool idle = v.measured_between_ops_s - v.predicted_between_ops_s > kIdleShare * step;
  std::snprintf(line, sizeof line,
                "between operators (one rank): predicted %.3f ms, measured %.3f ms (%.1f%% of the step)%s\n",
                v.predicted_between_ops_s * 1e3, v.measured_between_ops_s * 1e3, 100 * v.measured_between_ops_s / step,
                idle ? ": the GPU idles there, beyond the prediction" : "");
  out << line;
  if (v.host_in_ops_s > 0) {
    // The host's time alone does not say it was the bottleneck: a full launch queue makes it wait
    // for the GPU too. Idle time between operators beside it does.
    char between[96] = "";
    if (v.host_between_ops_s > 0) {
      std::snprintf(between, sizeof between, "; between them %.3f ms (%.0f%%)", v.host_between_ops_s * 1e3,
                    100 * v.host_between_ops_s / step);
    }
    std::snprintf(line, sizeof line, "host time inside the operators: %.3f ms (%.0f%% of the measured step)%s%s\n",
                  v.host_in_ops_s * 1e3, 100 * v.host_in_ops_s / step, between,
                  idle && v.host_in_ops_s > kLaunchBoundShare * step && !v.host_priced
                      ? ": the host's kernel launches pace the step, which this profile has no host times to price"
                      : "");
    out << line;
  }
  if (v.host_priced) {
    std::snprintf(line, sizeof line,
                  "host lane (the profile's host times): the host issues the operators in %.3f ms, the GPU waits "
                  "%.3f ms for it (%.1f%% of the predicted step)\n",
                  v.predicted_host_in_ops_s * 1e3, v.predicted_gpu_wait_for_host_s * 1e3,
                  100 * v.predicted_gpu_wait_for_host_s / v.predicted_step_s);
    out << line;
  }
  out << "\n";
  // With a host lane, the host's time inside each kind, predicted and measured, beside its own.
  std::snprintf(line, sizeof line, "%-40s %12s %12s %8s %6s%s\n", "operator kind (largest error first)", "predicted ms",
                "measured ms", "error", "count", v.host_priced ? "   host: predicted ms  measured ms" : "");
  out << line;
  for (const auto& k : v.per_kind) {
    std::snprintf(line, sizeof line, "%-40s %12.3f %12.3f %+7.1f%% %6lld", k.kind.c_str(), k.predicted_s * 1e3,
                  k.measured_s * 1e3, 100 * k.error(), static_cast<long long>(k.count));
    out << line;
    if (v.host_priced) {
      std::snprintf(line, sizeof line, " %20.3f %12.3f", k.predicted_host_s * 1e3, k.measured_host_s * 1e3);
      out << line;
    }
    out << "\n";
  }
  if (!v.blocks.empty()) {
    out << "\none block's training step (mean over its blocks; forward, backward and its parameters' share of the\n"
           "optimizer step):\n";
    std::snprintf(line, sizeof line, "%-14s %6s %16s %16s %14s %14s %8s\n", "block", "blocks", "predicted fwd ms",
                  "measured fwd ms", "predicted ms", "measured ms", "error");
    out << line;
    for (const BlockTime& b : v.blocks) {
      std::snprintf(line, sizeof line, "%-14s %6lld %16.3f %16.3f %14.3f %14.3f %+7.1f%%\n", b.kind.c_str(),
                    static_cast<long long>(b.blocks), b.predicted_forward_s * 1e3, b.measured_forward_s * 1e3,
                    b.predicted_step_s * 1e3, b.measured_step_s * 1e3, 100 * b.error());
      out << line;
    }
  }
  if (!v.per_kind.empty()) {
    const auto& worst = v.per_kind.front();
    out << "\nthe largest disagreement: " << worst.kind << " ("
        << (worst.predicted_s > worst.measured_s ? "over" : "under") << "-predicted by "
        << format_duration(Seconds{std::fabs(worst.predicted_s - worst.measured_s)}, 3) << " per step)\n";
  }
}

}  // namespace ecsim
