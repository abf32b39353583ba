// Golden scenarios (tests/golden/, derivations in tests/golden/README.md): each expected number
// is rebuilt here from the cost models' parts, independently of the engine, and must match to the
// nanosecond; and the same input gives byte-identical outputs.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "model/accounting.hpp"
#include "parallel/stage_ops.hpp"
#include "result/outputs.hpp"

using namespace ecsim;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(ECSIM_SOURCE_DIR) / "tests" / "golden";

// Time the engine gives a collective alone: its latency, then each phase's bytes at its rate,
// rounded up to the nanosecond as the engine does.
std::int64_t engine_time_alone(const CollectivePlan& p) {
  std::int64_t t = to_nanos(p.latency).value;
  for (const auto& ph : p.phases) t += static_cast<std::int64_t>(std::ceil(ph.bytes.value / (ph.bandwidth.value / kNanosPerSecond)));
  return t;
}

struct Expected {
  std::int64_t compute_ns = 0;
  std::int64_t comm_ns = 0;
};

// One rank, no pipeline, no data parallel: every kernel and every TP collective runs back to
// back, m micro-batches of (forward + backward), then the optimizer. The first micro-batch's
// backward writes the weights' gradients, the other m - 1 add to them.
Expected serial_step(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost) {
  Expected e;
  double params = 0;
  for (const auto& chunk : stage_chunks(s.model, p, 0)) {
    for (const auto& ops : chunk.layers) {
      for (const Op& op : ops) {
        e.compute_ns += cost.forward(op).value * p.micro_batches + cost.backward(op).value +
                        cost.backward(op, WeightGrads::kAdd).value * (p.micro_batches - 1);
        params += op.params;
      }
    }
  }
  e.compute_ns += cost.optimizer_step(params).value;
  if (p.layout.tp > 1) {
    // Sequence parallel: per block and pass, an all-gather before and a reduce-scatter after each
    // of self-attention, cross-attention and the FFN, of the micro-batch's tokens x d in bf16;
    // the backward mirrors them. 6 collectives x 2 passes per block and micro-batch.
    const Bytes act{static_cast<double>(p.tokens_per_micro_batch * s.model.hidden) * kBf16Bytes};
    const auto ag = plan_collective(*s.cluster, CollectiveKind::kAllGather, act, p.tp_group);
    const auto rs = plan_collective(*s.cluster, CollectiveKind::kReduceScatter, act, p.tp_group);
    e.comm_ns = (engine_time_alone(ag) + engine_time_alone(rs)) * 3 * 2 * s.model.layers * p.micro_batches;
  }
  return e;
}

SimulationResult run(const std::string& file) {
  const Scenario s = load_scenario(kGolden / file);
  return simulate(s, plan_layout(s), ComputeCostModel::analytic(s.cluster->gpu));
}

}  // namespace

TEST_CASE("golden: XL dense on one GPU is the sum of its kernels and the optimizer") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  const LayoutPlan p = plan_layout(s);
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const Expected e = serial_step(s, p, cost);
  const SimulationResult r = simulate(s, p, cost);
  MESSAGE("step " << r.step_time.value * 1e3 << " ms, closed form " << static_cast<double>(e.compute_ns) * 1e-6 << " ms");
  CHECK(to_nanos(r.step_time).value == e.compute_ns);
  CHECK(r.exposed_comm.value == 0);
  CHECK(r.bubble.value == 0);
  CHECK(r.images_per_s == doctest::Approx(8 / r.step_time.value));
}

TEST_CASE("golden: a measured launch gap puts the GPU's idle time before every operator, counted as compute") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  const LayoutPlan p = plan_layout(s);
  Profile measured = load_profile(std::filesystem::path(ECSIM_SOURCE_DIR) / "profiles" / "h100-sxm-analytic.json");
  measured.source = "measured";
  measured.launch_gap = ProfileLaunchGap{1200, 1500, 2000, 1};
  const auto cost = ComputeCostModel::from_profile(measured, s.cluster->gpu);
  const Expected e = serial_step(s, p, cost);
  const SimulationResult r = simulate(s, p, cost);
  std::int64_t tasks = 0;
  for (std::size_t t = 0; t < r.graph.tasks.size(); ++t) {
    const Task& task = r.graph.tasks[t];
    if (task.is_comm) continue;
    ++tasks;
    CHECK(task.lead_in == Nanos{1500});
    // An operator's own time is its kernels' (what validate compares per operator).
    CHECK(r.engine.timing[t].finish - r.engine.timing[t].start == task.duration);
  }
  MESSAGE(tasks << " operators x 1.5 us on top of the kernels' " << static_cast<double>(e.compute_ns) * 1e-6 << " ms");
  CHECK(to_nanos(r.step_time).value == e.compute_ns + tasks * 1500);
  CHECK(to_nanos(r.compute).value == to_nanos(r.step_time).value);
  CHECK(r.bubble.value == 0);
  CHECK(r.exposed_comm.value == 0);
}

TEST_CASE("golden: XL dense with TP 2 adds every sequence-parallel collective on the critical path") {
  const Scenario s = load_scenario(kGolden / "xl-dense-tp2.json");
  const LayoutPlan p = plan_layout(s);
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const Expected e = serial_step(s, p, cost);
  const SimulationResult r = simulate(s, p, cost);
  MESSAGE("step " << r.step_time.value * 1e3 << " ms = compute " << static_cast<double>(e.compute_ns) * 1e-6
                  << " ms + TP collectives " << static_cast<double>(e.comm_ns) * 1e-6 << " ms");
  CHECK(to_nanos(r.step_time).value == e.compute_ns + e.comm_ns);
  CHECK(to_nanos(r.exposed_comm).value == e.comm_ns);
}

TEST_CASE("golden: inference takes sampling_steps forward passes per request batch") {
  const SimulationResult r = run("m-64e-infer.json");
  CHECK(r.step_time.value == doctest::Approx(50 * r.pass_time.value).epsilon(1e-12));
  CHECK(r.images_per_s == doctest::Approx(16 / r.step_time.value));
  // No backward and no optimizer in the graph.
  for (const Task& t : r.graph.tasks) {
    CHECK(t.phase != TaskPhase::kBackward);
    CHECK(t.phase != TaskPhase::kOptimizer);
  }
}

TEST_CASE("determinism: the same input gives byte-identical JSON, trace and CSV") {
  const Scenario s = default_scenario();
  const auto once = simulate(s, plan_layout(s), ComputeCostModel::analytic(s.cluster->gpu));
  const auto twice = simulate(s, plan_layout(s), ComputeCostModel::analytic(s.cluster->gpu));
  CHECK(result_to_json(once).dump() == result_to_json(twice).dump());
  CHECK(trace_json(once) == trace_json(twice));
  CHECK(operator_csv(once) == operator_csv(twice));
  CHECK(result_to_json(once)["seed"] == 1);
}
