#include "runner/runner.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/units.hpp"
#include "core/utc_time.hpp"
#include "cuda_check.hpp"
#include "parallel/memory.hpp"
#include "runner/device_trainer.hpp"
#include "runner/op_plan.hpp"
#include "runner/run_output.hpp"

namespace ecsim::runner {
namespace {

// AdamW as model_ref's tests train (lr 1e-4 is DiT's); the runner measures cost, not convergence.
constexpr AdamWHyperparameters kAdamW{1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f};

std::string device_name() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

// The ops one step must record: per micro-batch the forward plan, then the backward plan; then the
// optimizer. A mismatch means the device code and the plan (hence the simulator) disagree.
void check_against_plan(const model_ref::ModelConfig& c, std::int64_t ep, std::int64_t micro_batches,
                        const std::vector<TimedOp>& ops) {
  std::vector<TracedOp> expected;
  for (std::int64_t mb = 0; mb < micro_batches; ++mb) {
    for (TracedOp& op : model_forward_plan(c, ep)) expected.push_back(std::move(op));
    for (TracedOp& op : model_backward_plan(c, ep)) expected.push_back(std::move(op));
  }
  expected.push_back({"adamw", "optimizer.step", -1});
  const std::size_t n = std::min(expected.size(), ops.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (expected[i].op != ops[i].name || expected[i].label != ops[i].label || expected[i].layer != ops[i].layer) {
      throw RuntimeFailure("ecsim-run: timed op " + std::to_string(i) + " is " + ops[i].name + " " + ops[i].label +
                           " (layer " + std::to_string(ops[i].layer) + "), the plan has " + expected[i].op + " " +
                           expected[i].label + " (layer " + std::to_string(expected[i].layer) + ")");
    }
  }
  if (expected.size() != ops.size()) {
    throw RuntimeFailure("ecsim-run: a step timed " + std::to_string(ops.size()) + " ops, the plan has " +
                         std::to_string(expected.size()));
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

void run(const RunOptions& options, ProcessGroup& group, std::ostream& out) {
  const RunConfig rc = resolve_run_config(options, group.size());
  group.connect(rank_groups(rc.plan, group.rank()));
  const bool lead = group.rank() == 0;
  const std::int64_t ep = rc.plan.layout.ep;
  const std::int64_t images = rc.images_per_micro_batch;
  if (lead) {
    out << "ecsim-run " << rc.scenario.name << "\n  model   " << rc.scenario.model.name << ", " << rc.model.layers
        << " blocks" << (rc.layers_override > 0 ? " (--layers)" : "") << ", " << rc.model.experts << " experts\n"
        << "  layout  " << rc.layout_string << " (" << rc.micro_batches << " micro-batches of " << images
        << " images, " << group.size() << " process(es))\n  seed    " << rc.seed << "\n  optimizer AdamW, "
        << (rc.storage == OptimizerStorage::kBf16 ? "bf16 weights and moments (no master weights)"
                                                  : "fp32 master weights and moments")
        << (rc.grads == GradientStorage::kBf16 ? ", bf16 gradients\n" : ", fp32 gradients\n");
  }

  DeviceTrainer trainer(rc.model, rc.seed, model_ref::InitScheme::kAdaLnZero, kAdamW, images, &group, rc.storage,
                        rc.grads);
  if (lead && ep > 1) {
    const ExpertShard& sh = trainer.shard();
    out << "  experts " << sh.count << " per rank over ep=" << ep << " (rank 0: experts [" << sh.first << ", "
        << sh.first + sh.count << ")), dispatch and combine as NCCL all-to-alls in the EP group; each rank "
        << "stores only its own experts' parameters and optimizer states\n";
  }
  std::vector<DeviceBatch> batches;
  for (std::int64_t mb = 0; mb < rc.micro_batches; ++mb) {
    // Each rank and micro-batch its own images; the same ones every step, so every step does the same work.
    const std::uint64_t seed = rc.seed + 1 + static_cast<std::uint64_t>(group.rank() * rc.micro_batches + mb);
    batches.push_back(upload_batch(rc.model, model_ref::make_flow_batch(rc.model, images, seed)));
  }

  RunRecord record;
  record.scenario_name = rc.scenario.name;
  record.scenario_file = options.scenario;
  record.layout = rc.layout_string;
  record.layers = rc.layers_override;
  record.model = model_to_json(rc.scenario.model);  // with --layers, the blocks that ran
  record.images_per_step = rc.scenario.run.global_batch;
  record.optimizer = optimizer_to_json(rc.scenario.run.optimizer);
  record.device = device_name();
  record.created = utc_now_iso8601();
  std::vector<std::vector<TimedOp>> measured;
  std::vector<double> losses;
  for (std::int64_t i = 0; i < options.warmup + options.steps; ++i) {
    losses.push_back(trainer.step(batches));
    const std::vector<TimedOp> ops = trainer.timer().collect();
    if (i == 0) check_against_plan(rc.model, ep, rc.micro_batches, ops);
    const double step_s = group.max_over_ranks(trainer.timer().step_seconds());
    if (i < options.warmup) continue;
    record.step_times_s.push_back(step_s);
    measured.push_back(ops);
  }
  // Each op's median over the measured steps (the op lists are identical from step to step).
  record.ops = measured.front();
  for (std::size_t k = 0; k < record.ops.size(); ++k) {
    std::vector<double> t, start, host, gap;
    for (const auto& step : measured) {
      t.push_back(step[k].time_ns);
      start.push_back(step[k].start_ns);
      host.push_back(step[k].host_ns);
      gap.push_back(step[k].host_gap_ns);
    }
    record.ops[k].time_ns = median(t);
    record.ops[k].start_ns = median(start);
    record.ops[k].host_ns = median(host);
    record.ops[k].host_gap_ns = median(gap);
  }
  record.op_ranks.assign(record.ops.size(), group.rank());
  const TrackedMemory mem = tracked_memory();
  record.peak_memory_bytes = static_cast<double>(mem.peak);

  if (!lead) return;
  const MemoryBreakdown est = peak_memory(rc.scenario, rc.plan);
  const double step_s = median(record.step_times_s);
  char line[256];
  std::snprintf(line, sizeof line, "\nstep time   %.3f ms median of %zu (min %.3f, max %.3f), after %lld warm-up\n",
                step_s * 1e3, record.step_times_s.size(),
                *std::min_element(record.step_times_s.begin(), record.step_times_s.end()) * 1e3,
                *std::max_element(record.step_times_s.begin(), record.step_times_s.end()) * 1e3,
                static_cast<long long>(options.warmup));
  out << line;
  std::snprintf(line, sizeof line, "images/s    %.1f\nloss        %.5f at step 1, %.5f at step %zu\n",
                static_cast<double>(images * rc.micro_batches * group.size()) / step_s, losses.front(), losses.back(),
                losses.size());
  out << line;
  out << "memory      allocator peak " << format_bytes(Bytes{static_cast<double>(mem.peak)}, 4)
      << " (runner's own buffers), device in use " << format_bytes(Bytes{static_cast<double>(device_bytes_in_use())}, 4)
      << " (with CUDA context and cuBLAS workspaces)\n"
      << "            simulator estimate " << format_bytes(est.peak(), 4) << ": params "
      << format_bytes(est.params, 4) << ", grads " << format_bytes(est.grads, 4) << ", optimizer "
      << format_bytes(est.optimizer, 4) << ", activations " << format_bytes(est.activations, 4) << ", comm buffers "
      << format_bytes(est.comm_buffers, 4) << ", workspace " << format_bytes(est.workspace, 4) << "\n";
  if (const std::int64_t unfused = trainer.unfused_bias_shapes(); unfused > 0) {
    out << "note        " << unfused
        << " linear-layer shape(s) had no cuBLASLt algorithm with the bias in its epilogue: each ran as the "
        << "product, then bias_add (the profiler's gemm_bias entries time them alike)\n";
  }
  write_run_outputs(record, rc.scenario.model, images, ep, options.json, options.trace);
  if (!options.json.empty()) out << "run JSON    " << options.json.string() << "\n";
  if (!options.trace.empty()) out << "trace       " << options.trace.string() << "\n";
}

}  // namespace ecsim::runner
