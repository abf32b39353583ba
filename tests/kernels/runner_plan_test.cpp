// The runner's model assembly, checked without a GPU (kernels/runner/): what ecsim-run builds from
// a scenario must be what the simulator prices and what the CPU-reference model computes, or
// `ecsim validate` would compare different things.
//   - the device parameter layout is model_ref's (names, shapes, offsets), 16-byte aligned, and
//     each op's parameter count equals the simulator's (simulator/model/op.cpp formulas);
//   - the ops the runner times equal the simulator's ops (name, label, layer) in order, and the
//     CPU-reference model's traced forward;
//   - what the runner cannot run (token choice) is an InputError naming the file and JSON path.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "model/model_ops.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/model.hpp"
#include "runner/op_plan.hpp"
#include "runner/param_layout.hpp"
#include "runner/run_config.hpp"
#include "scenario/scenario.hpp"

namespace ecsim {
namespace {

const std::filesystem::path kSource = ECSIM_SOURCE_DIR;

std::vector<model_ref::TracedOp> simulator_forward(const ModelSpec& m, std::int64_t images) {
  OpContext ctx;
  ctx.samples = images;
  std::vector<model_ref::TracedOp> ops;
  for (const Op& op : model_ops(m, ctx)) ops.push_back({op.name, op.label, op.layer});
  return ops;
}

// The runner's plan for `layers` blocks of a scenario's model.
runner::RunConfig config_of(const std::string& scenario, std::int64_t layers) {
  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / scenario;
  o.layers = layers;
  return runner::resolve_run_config(o, 1);
}

}  // namespace

TEST_CASE("runner: the ops it times equal the simulator's, block by block, for every validation scenario") {
  for (const char* file : {"xl-dense-b8.json", "xl-8e-b8.json", "xl-32e-b16.json", "m-16e-b16.json"}) {
    CAPTURE(file);
    const runner::RunConfig rc = config_of(file, 4);
    const auto planned = runner::model_forward_plan(rc.model);
    const auto simulated = simulator_forward(rc.scenario.model, rc.images_per_micro_batch);
    REQUIRE(planned.size() == simulated.size());
    for (std::size_t i = 0; i < planned.size(); ++i) {
      CAPTURE(i);
      CHECK(planned[i].op == simulated[i].op);
      CHECK(planned[i].label == simulated[i].label);
      CHECK(planned[i].layer == simulated[i].layer);
    }
    // The backward is the forward reversed, under the names the simulator gives backward tasks.
    const auto backward = runner::model_backward_plan(rc.model);
    REQUIRE(backward.size() == planned.size());
    CHECK(backward.front().label == "final.loss");
    CHECK(backward.front().op == "flow_loss_bwd");
    CHECK(backward.back().label == "embed.patch");
    CHECK(runner::backward_name("attention_fwd") == "attention_bwd");
    CHECK(runner::backward_name("batched_gemm") == "batched_gemm");
  }
}

TEST_CASE("runner: the ops it times equal the CPU-reference model's traced forward") {
  model_ref::ModelConfig c;  // the tiny model: MoE in blocks 1 and 3, cross-attention
  const model_ref::Model model(c);
  const auto params = model_ref::init_params(model.layout(), 3, model_ref::InitScheme::kAllRandom);
  std::vector<model_ref::TracedOp> traced;
  model.forward(params, model_ref::make_flow_batch(c, 2, 5), &traced);
  CHECK(traced == runner::model_forward_plan(c));
}

TEST_CASE("runner: the device parameter layout is model_ref's, aligned, with the simulator's counts per op") {
  const runner::RunConfig rc = config_of("xl-16e-b8.json", 4);
  const model_ref::ParamLayout device = runner::device_param_layout(rc.model);
  const model_ref::ParamLayout reference = model_ref::make_param_layout(rc.model);
  REQUIRE(device.tensors.size() == reference.tensors.size());
  CHECK(device.total == reference.total);
  std::map<std::pair<std::int64_t, std::string>, double> per_op;  // (layer, label) -> parameters
  for (std::size_t i = 0; i < device.tensors.size(); ++i) {
    const auto& d = device.tensors[i];
    const auto& r = reference.tensors[i];
    CAPTURE(d.name);
    CHECK(d.name == r.name);
    CHECK(d.shape == r.shape);
    CHECK(d.ref.offset == r.ref.offset);
    CHECK(d.ref.size == r.ref.size);
    CHECK(d.ref.offset % runner::kParamAlignElements == 0);
    // "blocks.3.moe.expert_fc1.weight" -> layer 3, label "moe.expert_fc1"; "final.linear.bias" -> final.
    std::string name = d.name.substr(0, d.name.rfind('.'));
    std::int64_t layer = name.rfind("embed.", 0) == 0 ? -1 : rc.model.layers;
    if (name.rfind("blocks.", 0) == 0) {
      const std::size_t dot = name.find('.', 7);
      layer = std::stoll(name.substr(7, dot - 7));
      name = name.substr(dot + 1);
    }
    per_op[{layer, name}] += static_cast<double>(d.ref.size);
  }
  OpContext ctx;
  ctx.samples = rc.images_per_micro_batch;
  double simulated_total = 0;
  for (const Op& op : model_ops(rc.scenario.model, ctx)) {
    simulated_total += op.params;
    if (op.params == 0) continue;
    CAPTURE(op.label);
    CAPTURE(op.layer);
    CHECK(per_op[{op.layer, op.label}] == op.params);
  }
  CHECK(simulated_total == static_cast<double>(device.total));
}

TEST_CASE("runner: a scenario fixes the micro-batching, the seed and the layout string") {
  const runner::RunConfig rc = config_of("m-16e-b16.json", 2);
  CHECK(rc.scenario.model.layers == 2);
  CHECK(rc.layers_override == 2);
  CHECK(rc.images_per_micro_batch == 16);
  CHECK(rc.micro_batches == 1);
  CHECK(rc.seed == 1);
  CHECK(rc.model.hidden == 3072);
  CHECK(rc.model.experts == 16);
  CHECK(rc.layout_string.find("mbs=16") != std::string::npos);
}

TEST_CASE("runner: token-choice models and layouts it cannot run are input errors naming where") {
  const ModelSpec tc = load_model_or_scenario(kSource / "scenarios" / "models" / "ecdit-xxl-16e-tc-top2.json");
  CHECK_THROWS_WITH_AS(runner::model_config_from_spec(tc, "tc.json"),
                       doctest::Contains("tc.json: /model/moe/routing/kind: token-choice routing has no GPU kernels"),
                       InputError);
  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / "xl-8e-b8.json";
  o.layout = "ep=2";
  CHECK_THROWS_AS(runner::resolve_run_config(o, 1), InputError);
  o.layout = "";
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 2), doctest::Contains("the layout needs 1 GPUs"), InputError);
  o.layers = 99;
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("--layers: 99 outside"), InputError);
}

}  // namespace ecsim
