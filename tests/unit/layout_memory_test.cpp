// Layout constraints (each failure names the layout key and the constraint) and the memory
// model's closed forms: ZeRO-0/1/2/3 per GPU, activations by recomputation and micro-batches in flight.
#include <doctest/doctest.h>

#include <filesystem>

#include "model/accounting.hpp"
#include "parallel/layout_plan.hpp"
#include "parallel/memory.hpp"

using namespace ecsim;

namespace {

Scenario scenario(const std::string& model, const std::string& cluster, std::int64_t batch) {
  const std::filesystem::path root = std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios";
  Scenario s;
  s.name = "test";
  s.file = "test.json";
  s.model = load_model_or_scenario(root / "models" / model);
  s.cluster = parse_cluster(Node::root(load_json_file(root / "clusters" / cluster)));
  s.run.global_batch = batch;
  return s;
}

LayoutPlan plan_with(const Scenario& s, const std::string& flag) {
  return plan_layout(s, apply_layout_flag(Layout{}, flag), "/layout");
}

}  // namespace

TEST_CASE("layouts that cannot be built say which constraint failed") {
  const Scenario m64 = scenario("ecdit-m-64e.json", "dgx-h100-1024.json", 4096);
  CHECK_THROWS_WITH_AS(plan_with(m64, "dp=512,tp=2,ep=48,mbs=8"), "test.json: /layout/ep: 48 does not divide 64 experts",
                       InputError);
  CHECK_THROWS_WITH_AS(plan_with(m64, "dp=500,tp=2,mbs=8"), doctest::Contains("/layout/dp: dp x tp x pp"), InputError);
  CHECK_THROWS_WITH_AS(plan_with(m64, "tp=16,mbs=8"), doctest::Contains("/layout/tp: tp 16 must divide the 8 GPUs of a node"),
                       InputError);
  CHECK_THROWS_WITH_AS(plan_with(m64, "tp=2,pp=4,mbs=8"), doctest::Contains("/layout/pp: 38 layers do not divide"), InputError);
  CHECK_THROWS_WITH_AS(plan_with(m64, "dp=1024,mbs=4"),
                       doctest::Contains("does not fill whole expert-choice routing groups of 1024 (smallest mbs: 8)"),
                       InputError);
  CHECK_THROWS_WITH_AS(plan_with(m64, "tp=2,mbs=3"), doctest::Contains("/layout/mbs: global batch 4096 is not a multiple"),
                       InputError);
  CHECK_THROWS_WITH_AS(plan_with(m64, "tp=2,pp=2,zero=3,mbs=8"), doctest::Contains("/layout/zero: ZeRO-3"), InputError);
  CHECK_THROWS_WITH_AS(plan_layout(m64, apply_layout_flag(Layout{}, "tp=2,ep=128,mbs=8"), "--layout"),
                       "--layout: ep: 128 does not divide 64 experts", InputError);
  CHECK_THROWS_WITH_AS(apply_layout_flag(Layout{}, "dp=8,zz=1"), doctest::Contains("unknown key 'zz'"), InputError);
  CHECK_THROWS_WITH_AS(apply_layout_flag(Layout{}, "tp=two"), doctest::Contains("tp must be a whole number"), InputError);
}

TEST_CASE("a valid layout: micro-batches and communicator placement") {
  const Scenario m64 = scenario("ecdit-m-64e.json", "dgx-h100-1024.json", 4096);
  const LayoutPlan p = plan_with(m64, "tp=2,ep=64,mbs=8");
  CHECK(p.layout.dp == 512);
  CHECK(p.micro_batches == 1);            // 4096 / (512 x 8)
  CHECK(p.tokens_per_micro_batch == 1024);  // 8 images x 128 tokens
  CHECK(p.tp_group.ranks_per_node == 2);
  CHECK(p.dp_group.ranks_per_node == 4);  // 8 GPUs per node / tp 2
  CHECK(p.ep_group.ranks == 64);
  CHECK(p.ep_group.ranks_per_node == 4);
  CHECK(p.expert_dp_group.ranks == 8);    // 512 / 64
  CHECK(p.expert_dp_group.ranks_per_node == 1);
}

TEST_CASE("ZeRO 0/1/2/3 memory per GPU: closed forms") {
  // Dense XL on 8 GPUs, data parallel 8. P trainable parameters per GPU (no sharding by TP/EP).
  // bf16 weights 2P, fp32 gradients 4P, AdamW with fp32 master and moments 12P.
  const Scenario s = scenario("ecdit-xl-dense.json", "dgx-h100.json", 64);
  const double p = summarize_model(s.model).params_total - s.model.other_params;
  const double frozen = 2 * s.model.other_params;  // bf16 remainder on stage 0
  const double dp = 8;
  const MemoryBreakdown z0 = estimate_memory(s, plan_with(s, "zero=0,mbs=8"), 0);
  const MemoryBreakdown z1 = estimate_memory(s, plan_with(s, "zero=1,mbs=8"), 0);
  const MemoryBreakdown z2 = estimate_memory(s, plan_with(s, "zero=2,mbs=8"), 0);
  const MemoryBreakdown z3 = estimate_memory(s, plan_with(s, "zero=3,mbs=8"), 0);
  CHECK(z0.params.value == doctest::Approx(2 * p + frozen));
  CHECK(z0.grads.value == doctest::Approx(4 * p));
  CHECK(z0.optimizer.value == doctest::Approx(12 * p));
  CHECK(z1.optimizer.value == doctest::Approx(12 * p / dp));
  CHECK(z1.grads.value == doctest::Approx(4 * p));
  CHECK(z2.grads.value == doctest::Approx(4 * p / dp));
  CHECK(z2.optimizer.value == doctest::Approx(12 * p / dp));
  CHECK(z3.grads.value == doctest::Approx(4 * p / dp));
  // ZeRO-3 keeps 1/dp of the weights plus two gathered blocks (current and prefetched).
  CHECK(z3.params.value - frozen < (z2.params.value - frozen) / 2);
  CHECK(z3.params.value - frozen > 2 * p / dp);
  MESSAGE("XL dense, dp 8: states per GPU zero0 " << format_bytes(z0.params + z0.grads + z0.optimizer, 4) << ", zero1 "
          << format_bytes(z1.params + z1.grads + z1.optimizer, 4) << ", zero2 "
          << format_bytes(z2.params + z2.grads + z2.optimizer, 4) << ", zero3 "
          << format_bytes(z3.params + z3.grads + z3.optimizer, 4));
}

TEST_CASE("activations: recomputation keeps less, and 1F1B keeps pp - stage micro-batches") {
  const Scenario s = scenario("ecdit-xl-dense.json", "dgx-h100.json", 256);
  const MemoryBreakdown none = estimate_memory(s, plan_with(s, "pp=4,dp=2,mbs=8,recompute=none"), 0);
  const MemoryBreakdown sel = estimate_memory(s, plan_with(s, "pp=4,dp=2,mbs=8,recompute=selective"), 0);
  const MemoryBreakdown full = estimate_memory(s, plan_with(s, "pp=4,dp=2,mbs=8,recompute=full"), 0);
  CHECK(none.in_flight_micro_batches == 4);
  CHECK(estimate_memory(s, plan_with(s, "pp=4,dp=2,mbs=8"), 3).in_flight_micro_batches == 1);
  CHECK(sel.activations < none.activations);
  CHECK(full.activations < sel.activations);
  // Interleaved, 2 virtual stages on pp 2: Megatron's first stage keeps 1 + (p-1)/(p v) = 1.25 x p micro-batches.
  const MemoryBreakdown inter = estimate_memory(s, plan_with(s, "pp=2,vpp=2,dp=4,mbs=8"), 0);
  CHECK(inter.in_flight_micro_batches == doctest::Approx(2 * (1 + 1.0 / 4)));
}
