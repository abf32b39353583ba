// The step builder's recomputation rules (simulator/engine/step_builder.cpp): full recomputation
// reruns each layer's forward with its collectives (TP all-gathers and reduce-scatters, EP
// dispatch and combine: what they brought was not kept); selective recomputation reruns the
// elementwise kernels from the GEMMs' kept inputs and needs no collective. The planner's screen
// follows the same rule. And how a backward leaves the weights' gradients: written by the step's
// first micro-batch, added to by the later ones (but for ZeRO-3, whose every micro-batch writes).
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "cost/compute_cost.hpp"
#include "engine/event_engine.hpp"
#include "engine/step_builder.hpp"
#include "parallel/layout_plan.hpp"
#include "scenario/scenario.hpp"

namespace ecsim {
namespace {

const std::filesystem::path kSource{ECSIM_SOURCE_DIR};

// The simulated ranks' comm tasks of micro-batch 0 in `phase`, counted by label.
std::map<std::string, std::int64_t> comm_labels(const TaskGraph& g, TaskPhase phase) {
  std::map<std::string, std::int64_t> n;
  for (const Task& t : g.tasks) {
    if (t.is_comm && t.phase == phase && t.micro_batch == 0) ++n[t.label];
  }
  return n;
}

}  // namespace

TEST_CASE("full recomputation replays the forward's TP and EP collectives, selective replays none") {
  // The default scenario: EC-DiT-M-64E with tp 2 (sequence-parallel regions) and ep 64; with pp 2
  // and one block per virtual stage, the MoE blocks (odd) are all on the second stage.
  const Scenario s = load_scenario(kSource / "scenarios" / "ecdit-m-64e-train.json");
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  auto graph = [&](const char* recompute) {
    return build_step_graph(s, plan_layout(s, apply_layout_flag(*s.layout, std::string("recompute=") + recompute),
                                           "--layout"),
                            cost);
  };
  const TaskGraph none = graph("none"), selective = graph("selective"), full = graph("full");
  const auto forward = comm_labels(full, TaskPhase::kForward);
  REQUIRE(forward.count("tp.all_gather"));
  REQUIRE(forward.count("ep.dispatch"));
  CHECK(comm_labels(full, TaskPhase::kRecompute) == forward);
  CHECK(comm_labels(selective, TaskPhase::kRecompute).empty());
  CHECK(comm_labels(none, TaskPhase::kRecompute).empty());
  // The replayed collectives sit in the backward's dependency chain: a longer step.
  const Nanos t_none = run_engine(none).makespan, t_full = run_engine(full).makespan;
  CHECK(t_full > t_none);
}

TEST_CASE("a layer's first backward of the step writes the weights' gradients, the later micro-batches add to them") {
  const Scenario s = load_scenario(kSource / "scenarios" / "ecdit-m-64e-train.json");
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  // Backward durations by (layer, label) and micro-batch (a layer's ops run on one stage).
  auto durations = [&](const std::string& layout_flag) {
    const LayoutPlan plan = plan_layout(s, apply_layout_flag(*s.layout, layout_flag), "--layout");
    REQUIRE(plan.micro_batches > 1);
    const TaskGraph g = build_step_graph(s, plan, cost);
    std::map<std::pair<std::int32_t, std::string>, std::map<std::int32_t, Nanos>> d;
    for (const Task& t : g.tasks) {
      if (!t.is_comm && t.phase == TaskPhase::kBackward) d[{t.layer, t.label}][t.micro_batch] = t.duration;
    }
    return d;
  };
  // One pipeline stage (ZeRO-3 takes no pipeline): TP 4, and 2 micro-batches of 8 images per rank.
  const std::string layout = "dp=256,tp=4,pp=1,vpp=1,mbs=8,zero=";
  const auto adding = durations(layout + "2");
  const std::pair<std::int32_t, std::string> expert{1, "moe.expert_fc1"}, gelu{1, "moe.expert_gelu"};
  REQUIRE(adding.count(expert));
  const auto& e = adding.at(expert);
  REQUIRE(e.size() > 1);
  // The experts' dW reads the old fp32 gradient from micro-batch 1 on; a GeLU has no weights.
  CHECK(e.at(0) < e.at(1));
  CHECK(e.at(1) == e.rbegin()->second);
  CHECK(adding.at(gelu).at(0) == adding.at(gelu).at(1));
  // Under ZeRO-3 each micro-batch's gradients are reduce-scattered away: every one writes.
  const auto writing = durations(layout + "3");
  CHECK(writing.at(expert).at(0) == writing.at(expert).at(1));
  CHECK(writing.at(expert).at(1) == e.at(0));
}

TEST_CASE("the step prices weight gradients in the scenario's grad_dtype") {
  // run.optimizer.grad_dtype bf16: every dW writes 2 bytes per parameter (no gain where the product
  // is compute-bound, as here) and the later micro-batches read 2 (priced on top, at the HBM
  // ceiling), so the experts' adding backward is shorter; a GeLU's (no weights) is the same.
  Scenario s = load_scenario(kSource / "scenarios" / "ecdit-m-64e-train.json");
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  const LayoutPlan plan = plan_layout(s, apply_layout_flag(*s.layout, "dp=256,tp=4,pp=1,vpp=1,mbs=8"), "--layout");
  REQUIRE(plan.micro_batches > 1);
  auto backward = [&](Dtype grads) {
    s.run.optimizer.grads = grads;
    std::map<std::pair<std::string, std::int32_t>, Nanos> d;
    for (const Task& t : build_step_graph(s, plan, cost).tasks) {
      if (!t.is_comm && t.phase == TaskPhase::kBackward && t.layer == 1) d[{t.label, t.micro_batch}] = t.duration;
    }
    return d;
  };
  const auto fp32 = backward(Dtype::kFp32), bf16 = backward(Dtype::kBf16);
  CHECK(bf16.at({"moe.expert_fc1", 0}) <= fp32.at({"moe.expert_fc1", 0}));
  CHECK(bf16.at({"moe.expert_fc1", 1}) < fp32.at({"moe.expert_fc1", 1}));
  for (std::int32_t mb : {0, 1}) CHECK(bf16.at({"moe.expert_gelu", mb}) == fp32.at({"moe.expert_gelu", mb}));
}

}  // namespace ecsim
