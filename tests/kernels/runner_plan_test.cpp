// The runner's model assembly, checked without a GPU (kernels/runner/): what ecsim-run builds from
// a scenario must be what the simulator prices and what the CPU-reference model computes, or
// `ecsim validate` would compare different things.
//   - the device parameter layout is model_ref's (names, shapes, offsets), 16-byte aligned, and
//     each op's parameter count equals the simulator's (simulator/model/op.cpp formulas);
//   - the ops the runner times equal the simulator's ops (name, label, layer) in order, and the
//     CPU-reference model's traced forward;
//   - with expert parallelism, the EP all-to-alls sit where the simulator's step builder puts its
//     comm tasks, the EP and expert-DP groups are plan_layout's, and the gradient ranges tile the
//     flat buffer with each expert slice reduced over the expert-DP group;
//   - token-choice models (padded to a capacity, or dropless) are built with the simulator's ops;
//   - what the runner cannot run (expert parallelism of token choice, ...) is an InputError naming
//     where.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <algorithm>
#include <set>

#include "core/errors.hpp"
#include "engine/step_builder.hpp"
#include "model/model_ops.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/model.hpp"
#include "ref/tensor.hpp"
#include "runner/expert_parallel.hpp"
#include "runner/op_plan.hpp"
#include "runner/param_layout.hpp"
#include "runner/run_config.hpp"
#include "runner_reference.hpp"
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

// The runner's plan for `layers` blocks of a scenario's model, launched on `world` processes.
runner::RunConfig config_of(const std::string& scenario, std::int64_t layers, std::int64_t world = 1) {
  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / scenario;
  o.layers = layers;
  return runner::resolve_run_config(o, world);
}

// The simulator's tasks of rank 0, micro-batch 0, in one pass, that the runner times: compute
// tasks and the EP all-to-alls (validate/validation.cpp matches the same ones).
std::vector<model_ref::TracedOp> simulated_tasks(const runner::RunConfig& rc, TaskPhase phase) {
  const auto cost = ComputeCostModel::analytic(rc.scenario.cluster->gpu);
  const TaskGraph g = build_step_graph(rc.scenario, rc.plan, cost);
  std::vector<model_ref::TracedOp> ops;
  for (const Task& t : g.tasks) {
    if (t.rank != 0 || t.phase != phase || t.micro_batch != 0) continue;
    if (t.is_comm && t.label.rfind("ep.", 0) != 0) continue;
    ops.push_back({t.name, t.label, t.layer});
  }
  return ops;
}

// Ranks sharing a node, at most, among `ranks` (nodes of `per_node` GPUs in rank order).
std::int64_t most_on_one_node(const std::vector<int>& ranks, std::int64_t per_node) {
  std::map<std::int64_t, std::int64_t> on;
  for (int r : ranks) ++on[r / per_node];
  std::int64_t most = 0;
  for (const auto& [node, n] : on) most = std::max(most, n);
  return most;
}

}  // namespace

TEST_CASE("runner: the ops it times equal the simulator's, block by block, for every validation scenario") {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kSource / "scenarios" / "validation")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  CHECK(files.size() >= 19);  // the campaign's (scripts/validate_on_gpu.sh)
  for (const std::filesystem::path& path : files) {
    const std::string file = path.filename().string();
    CAPTURE(file);
    const Layout layout = *load_scenario(path).layout;
    const runner::RunConfig rc = config_of(file, 4, layout.dp * layout.tp * layout.pp);
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

TEST_CASE("runner: a scenario's optimizer dtypes choose AdamW's and the gradients' storage, and recipes it does not "
          "keep are input errors") {
  const runner::RunConfig fp32 = config_of("pt-m-16e-b32.json", 2), bf16 = config_of("pt-m-16e-b32-bf16.json", 2);
  CHECK(fp32.storage == runner::OptimizerStorage::kFp32Master);
  CHECK(fp32.grads == runner::GradientStorage::kFp32);
  CHECK(bf16.storage == runner::OptimizerStorage::kBf16);
  CHECK(bf16.grads == runner::GradientStorage::kBf16);
  OptimizerSpec o;
  o.master = Dtype::kBf16;  // bf16 masters (none) with fp32 moments
  CHECK_THROWS_WITH_AS(runner::optimizer_storage(o, "s.json"),
                       doctest::Contains("s.json: /run/optimizer/moment_dtype: ecsim-run keeps fp32 moments"),
                       InputError);
  // bf16 gradients go with either state (bf16, or fp32 masters and moments).
  o.moments = Dtype::kBf16;
  o.grads = Dtype::kBf16;
  CHECK(runner::optimizer_storage(o, "s.json") == runner::OptimizerStorage::kBf16);
  o.master = o.moments = Dtype::kFp32;
  CHECK(runner::optimizer_storage(o, "s.json") == runner::OptimizerStorage::kFp32Master);
}

TEST_CASE("runner: with ep > 1 the EP all-to-alls sit where the simulator's step builder puts them") {
  const runner::RunConfig rc = config_of("xl-8e-ep2.json", 4, 2);
  REQUIRE(rc.plan.layout.ep == 2);
  const auto forward = runner::model_forward_plan(rc.model, 2);
  const auto backward = runner::model_backward_plan(rc.model, 2);
  CHECK(forward == simulated_tasks(rc, TaskPhase::kForward));
  CHECK(backward == simulated_tasks(rc, TaskPhase::kBackward));
  // Blocks 1 and 3 are MoE (every 2, from the second): permute, dispatch ... combine, unpermute.
  const auto at = [&](const std::vector<model_ref::TracedOp>& ops, const char* label, std::int64_t layer) {
    const auto it = std::find_if(ops.begin(), ops.end(), [&](const auto& op) {
      return op.label == label && op.layer == layer;
    });
    return it - ops.begin();
  };
  for (std::int64_t layer : {1, 3}) {
    CAPTURE(layer);
    const auto d = at(forward, "ep.dispatch", layer), c = at(forward, "ep.combine", layer);
    REQUIRE(d < static_cast<std::ptrdiff_t>(forward.size()));
    CHECK(forward[static_cast<std::size_t>(d)].op == "all_to_all");
    CHECK(forward[static_cast<std::size_t>(d - 1)].label == "moe.dispatch_gather");
    CHECK(forward[static_cast<std::size_t>(d + 1)].label == "moe.expert_fc1");
    CHECK(forward[static_cast<std::size_t>(c + 1)].label == "moe.combine");
    const auto bc = at(backward, "ep.combine", layer), bd = at(backward, "ep.dispatch", layer);
    CHECK(backward[static_cast<std::size_t>(bc)].op == "all_to_all");
    CHECK(backward[static_cast<std::size_t>(bc - 1)].op == "unpermute_bwd");
    CHECK(backward[static_cast<std::size_t>(bd + 1)].op == "permute_bwd");
  }
  // Without expert parallelism there are none, and a dense block never has them.
  const auto plain = runner::model_forward_plan(rc.model, 1);
  CHECK(forward.size() == plain.size() + 4);
  CHECK(std::none_of(plain.begin(), plain.end(), [](const auto& op) { return op.op == "all_to_all"; }));
  CHECK(runner::backward_name("all_to_all") == "all_to_all");
}

TEST_CASE("runner: EP and expert-DP groups are plan_layout's, in Megatron rank order") {
  Scenario s = load_scenario(kSource / "scenarios" / "validation" / "xl-8e-ep2.json");
  s.cluster->gpus = 32;  // four nodes of 8
  s.run.global_batch = 32 * 8;
  for (const char* flag : {"dp=32,ep=4", "dp=32,ep=8", "dp=16,tp=2,ep=4", "dp=8,tp=2,pp=2,ep=2"}) {
    CAPTURE(flag);
    const LayoutPlan plan = plan_layout(s, apply_layout_flag(*s.layout, flag), "--layout");
    std::set<std::vector<int>> ep_groups, edp_groups;
    for (int rank = 0; rank < plan.gpus; ++rank) {
      CAPTURE(rank);
      const runner::RankGroups g = runner::rank_groups(plan, rank);
      CHECK(static_cast<std::int64_t>(g.ep.size()) == plan.ep_group.ranks);
      CHECK(static_cast<std::int64_t>(g.expert_dp.size()) == plan.expert_dp_group.ranks);
      CHECK(most_on_one_node(g.ep, s.cluster->gpus_per_node) == plan.ep_group.ranks_per_node);
      CHECK(most_on_one_node(g.expert_dp, s.cluster->gpus_per_node) == plan.expert_dp_group.ranks_per_node);
      CHECK(g.ep[static_cast<std::size_t>(g.ep_rank)] == rank);
      // A rank's EP group and its expert-DP group meet in the rank alone: one owner per expert slice.
      std::vector<int> both;
      std::set_intersection(g.ep.begin(), g.ep.end(), g.expert_dp.begin(), g.expert_dp.end(), std::back_inserter(both));
      CHECK(both == std::vector<int>{rank});
      // The expert-DP peers own the same experts: they sit at the same EP rank of their groups.
      for (int peer : g.expert_dp) CHECK(runner::rank_groups(plan, peer).ep_rank == g.ep_rank);
      ep_groups.insert(g.ep);
      edp_groups.insert(g.expert_dp);
    }
    // Each family partitions the ranks (every rank lands in exactly one group of each).
    CHECK(static_cast<std::int64_t>(ep_groups.size()) * plan.ep_group.ranks == plan.gpus);
    CHECK(static_cast<std::int64_t>(edp_groups.size()) * plan.expert_dp_group.ranks == plan.gpus);
  }
  // dp=32, ep=4, tp=1: EP groups are 4 consecutive ranks, expert-DP groups every 4th rank.
  const LayoutPlan plan = plan_layout(s, apply_layout_flag(*s.layout, "dp=32,ep=4"), "--layout");
  const runner::RankGroups g = runner::rank_groups(plan, 6);
  CHECK(g.ep == std::vector<int>{4, 5, 6, 7});
  CHECK(g.ep_rank == 2);
  CHECK(g.expert_dp == std::vector<int>{2, 6, 10, 14, 18, 22, 26, 30});
}

TEST_CASE("runner: with ep > 1 a rank stores its own experts, whose gradients go to the expert-DP group") {
  const runner::RunConfig rc = config_of("xl-8e-ep2.json", 4, 2);
  const model_ref::ParamLayout full = runner::device_param_layout(rc.model);
  std::int64_t expert_params = 0;  // of the full model
  for (const auto& t : full.tensors) {
    if (t.name.find(".moe.expert_") != std::string::npos) expert_params += t.ref.size;
  }
  REQUIRE(expert_params > 0);
  using runner::GradReduce;
  std::vector<std::vector<runner::GradRange>> plans;
  for (int ep_rank : {0, 1}) {
    CAPTURE(ep_rank);
    const runner::ExpertShard shard = runner::expert_shard(rc.model.experts, 2, ep_rank);
    CHECK(shard.first == 4 * ep_rank);
    CHECK(shard.count == 4);
    const model_ref::ParamLayout layout = runner::device_param_layout(rc.model, {shard.first, shard.count});
    // Half the experts: the full model less the other rank's half, every tensor still aligned.
    CHECK(layout.total == full.total - expert_params / 2);
    CHECK(layout.blocks[1].moe_ffn.experts.experts == 4);
    CHECK(layout.blocks[1].moe_ffn.experts.first == 4 * ep_rank);
    CHECK(layout.blocks[1].moe_ffn.router.out == 8);  // the router still scores every expert
    const auto ranges = runner::grad_sync_plan(layout, shard);
    std::map<GradReduce, std::int64_t> total;
    std::int64_t next = 0;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      CAPTURE(i);
      CHECK(ranges[i].offset == next);  // in order, no gap, no overlap
      CHECK(ranges[i].count > 0);
      if (i > 0) CHECK(ranges[i].reduce != ranges[i - 1].reduce);  // adjacent ranges of one kind are merged
      next = ranges[i].offset + ranges[i].count;
      total[ranges[i].reduce] += ranges[i].count;
    }
    CHECK(next == layout.total);
    CHECK(total[GradReduce::kAllRanks] == full.total - expert_params);
    CHECK(total[GradReduce::kExpertDataParallel] == expert_params / 2);
    // Block 1's fc1 weights [4, d, f] open an expert-DP range.
    const std::int64_t fc1_at = layout.blocks[1].moe_ffn.experts.fc1_weight.offset;
    CHECK(std::any_of(ranges.begin(), ranges.end(), [&](const runner::GradRange& r) {
      return r.reduce == GradReduce::kExpertDataParallel && r.offset == fc1_at;
    }));
    // A layout of other experts than the shard's is refused.
    CHECK_THROWS_AS(runner::grad_sync_plan(full, shard), PreconditionError);
    plans.push_back(ranges);
  }
  // Both EP ranks post the same ranges in the same order: NCCL pairs the all-reduces across ranks.
  CHECK(plans[0] == plans[1]);
  // Without expert parallelism, and for a dense model, the buffer is one range over all ranks.
  const runner::GradRange whole{0, full.total, GradReduce::kAllRanks};
  CHECK(runner::grad_sync_plan(full, runner::expert_shard(rc.model.experts, 1, 0)) ==
        std::vector<runner::GradRange>{whole});
  const runner::RunConfig dense = config_of("xl-dense-b8.json", 4);
  const model_ref::ParamLayout dense_layout = runner::device_param_layout(dense.model, {0, 0});
  CHECK(runner::grad_sync_plan(dense_layout, runner::expert_shard(dense.model.experts, 1, 0)) ==
        std::vector<runner::GradRange>{{0, dense_layout.total, GradReduce::kAllRanks}});
}

TEST_CASE("runner: a rank's stored experts start from the full model's values for them") {
  model_ref::ModelConfig c;  // the tiny model: 4 experts in blocks 1 and 3
  const model_ref::ParamLayout full = model_ref::make_param_layout(c);
  const model_ref::ParamLayout part = model_ref::make_param_layout(c, {1, 2});
  REQUIRE(part.tensors.size() == full.tensors.size());
  for (const auto scheme : {model_ref::InitScheme::kAllRandom, model_ref::InitScheme::kAdaLnZero}) {
    const std::vector<double> a = model_ref::init_params(full, 11, scheme);
    const std::vector<double> b = model_ref::init_params(part, 11, scheme);
    std::int64_t expert_tensors = 0;
    for (std::size_t i = 0; i < full.tensors.size(); ++i) {
      const auto& f = full.tensors[i];
      const auto& p = part.tensors[i];
      CAPTURE(f.name);
      REQUIRE(p.name == f.name);
      // Expert tensors keep experts 1 and 2 of 4: half of each, from expert 1's slice on.
      const std::int64_t skip = f.experts > 0 ? f.ref.size / f.experts : 0;
      CHECK(p.ref.size == (f.experts > 0 ? f.ref.size / 2 : f.ref.size));
      expert_tensors += f.experts > 0 ? 1 : 0;
      const bool same = std::equal(b.begin() + p.ref.offset, b.begin() + p.ref.offset + p.ref.size,
                                   a.begin() + f.ref.offset + skip);
      CHECK(same);
    }
    CHECK(expert_tensors == 8);  // fc1 and fc2, weight and bias, in 2 MoE blocks
  }
  CHECK_THROWS_AS(model_ref::make_param_layout(c, {3, 2}), PreconditionError);
  CHECK_THROWS_AS(model_ref::make_param_layout(c, {0, 0}), PreconditionError);
}

TEST_CASE("runner: an output naming an input, or both outputs one file, is refused before any training") {
  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / "xl-dense-b8.json";
  o.json = o.scenario;
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("--json: '"), InputError);
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("is an input of this run"), InputError);
  o.json = kSource / "scenarios" / "models" / "ecdit-xl-dense.json";  // the model the scenario references
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("is an input of this run"), InputError);
  o.json = std::filesystem::temp_directory_path() / "ecsim_runner_outputs.json";
  o.trace = std::filesystem::temp_directory_path() / "." / "ecsim_runner_outputs.json";
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("is also the --json file"), InputError);
  o.trace = std::filesystem::temp_directory_path() / "ecsim_runner_outputs.trace.json";
  CHECK_NOTHROW(runner::resolve_run_config(o, 1));
}

TEST_CASE("runner: an expert-parallel layout runs when ep divides the experts and the launch has its GPUs") {
  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / "xl-8e-ep2.json";
  const runner::RunConfig rc = runner::resolve_run_config(o, 2);
  CHECK(rc.layout_string.find("ep=2") != std::string::npos);
  CHECK(rc.micro_batches == 1);
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("the layout needs 2 GPUs"), InputError);
  o.layout = "ep=3";
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 2), doctest::Contains("--layout: ep: 3 does not divide 8 experts"),
                       InputError);
  o.layout = "dp=1,ep=2";
  CHECK_THROWS_AS(runner::resolve_run_config(o, 2), InputError);  // dp x tp x pp is not the cluster's 2 GPUs
  o.scenario = kSource / "scenarios" / "validation" / "xl-dense-b8.json";
  o.layout = "ep=2";
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("needs a model with experts"), InputError);
}

TEST_CASE("runner: a model past what the routing kernels hold is an input error naming its JSON path") {
  ModelSpec tc = load_model_or_scenario(kSource / "scenarios" / "models" / "ecdit-xxl-16e-tc-top2.json");
  tc.moe.routing.top_k = 9;  // the token-choice kernels pick at most 8 (routing_limits.hpp)
  CHECK_THROWS_WITH_AS(runner::model_config_from_spec(tc, "tc.json"),
                       doctest::Contains("tc.json: /model/moe/routing/top_k: 9 exceeds the 8"), InputError);
  tc.moe.routing.top_k = 2;
  tc.moe.experts = 2048;
  CHECK_THROWS_WITH_AS(runner::model_config_from_spec(tc, "tc.json"),
                       doctest::Contains("tc.json: /model/moe/experts: 2048 exceeds the 1024"), InputError);
  ModelSpec ec = load_model_or_scenario(kSource / "scenarios" / "models" / "ecdit-xl-8e.json");
  ec.moe.routing.group_tokens = 8192;
  CHECK_THROWS_WITH_AS(runner::model_config_from_spec(ec, "ec.json"),
                       doctest::Contains("ec.json: /model/moe/routing/group_tokens: 8192 exceeds the 4096"),
                       InputError);
  ec.moe.routing.group_tokens = 4096;  // C = 4096 x 2 / 8192 = 1: routable, but past the combine's limit
  ec.moe.experts = 8192;
  CHECK_THROWS_WITH_AS(runner::model_config_from_spec(ec, "ec.json"),
                       doctest::Contains("ec.json: /model/moe/experts: 8192 exceeds the 4096"), InputError);
  ec.moe.experts = 4096;
  CHECK(runner::model_config_from_spec(ec, "ec.json").experts == 4096);  // at the limit: built
}

TEST_CASE("runner: token-choice models are built, padded or dropless, and layouts it cannot run are input errors") {
  const ModelSpec tc = load_model_or_scenario(kSource / "scenarios" / "models" / "ecdit-xxl-16e-tc-top2.json");
  const model_ref::ModelConfig c = runner::model_config_from_spec(tc, "tc.json");
  CHECK(c.routing == model_ref::Routing::kTokenChoice);
  CHECK(c.top_k == 2);
  CHECK_FALSE(c.dropless());
  CHECK(c.token_choice_capacity(1024) == 128);  // ceil(1.0 x 1024 x 2 / 16)
  auto op_of = [](const model_ref::ModelConfig& m, const std::string& label) {
    for (const auto& op : runner::model_forward_plan(m)) {
      if (op.label == label) return op.op;
    }
    return std::string("none");
  };
  CHECK(op_of(c, "moe.route") == "tc_route");
  CHECK(op_of(c, "moe.expert_fc1") == "batched_gemm");  // padded to the capacity, as priced
  const runner::RunConfig dropless = config_of("xl-8e-tc-dropless-b8.json", 2);
  CHECK(dropless.model.dropless());
  CHECK(op_of(dropless.model, "moe.expert_fc1") == "grouped_gemm");

  // Expert parallelism exchanges expert choice's fixed-size slices only.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "ecsim_runner_plan_test";
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "tc-ep2.json";
  {
    std::ofstream out(file);
    out << R"({"name": "tc ep2", "model": {"base": ")" << (kSource / "scenarios/models/ecdit-xl-8e.json").string()
        << R"(", "moe": {"routing": {"kind": "token_choice", "top_k": 2, "capacity_factor": 1.25}}},
              "cluster": {"base": ")" << (kSource / "scenarios/clusters/dgx-h100.json").string() << R"(", "gpus": 2},
              "layout": {"dp": 2, "ep": 2, "zero": 0, "mbs": 8},
              "run": {"mode": "train", "global_batch": 16, "optimizer": {"kind": "adamw"}}})";
  }
  runner::RunOptions ep;
  ep.scenario = file;
  ep.layers = 2;
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(ep, 2), doctest::Contains("runs expert-choice models only"),
                       InputError);
  ep.layout = "ep=1";
  CHECK(runner::resolve_run_config(ep, 2).plan.layout.dp == 2);  // data parallel token choice runs
  std::filesystem::remove_all(dir);

  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / "xl-8e-b8.json";
  o.layout = "ep=2";
  CHECK_THROWS_AS(runner::resolve_run_config(o, 1), InputError);
  o.layout = "";
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 2), doctest::Contains("the layout needs 1 GPUs"), InputError);
  o.layers = 99;
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("--layers: 99 outside"), InputError);
}

TEST_CASE("runner: the GPU tests' seeds route without a near tie that bf16 could flip") {
  // runner_gpu_test.cpp compares one device step with model_ref at these seeds (runner_reference.hpp).
  struct Case {
    model_ref::ModelConfig config;
    test::ReferenceSeeds seeds;
  };
  for (const Case& k : {Case{test::runner_tiny(), test::kExpertChoiceSeeds},
                        Case{test::runner_tiny_token_choice(1.0), test::kTokenChoiceSeeds},
                        Case{test::runner_tiny_token_choice(0.0), test::kTokenChoiceSeeds}}) {
    const double margin = test::routing_margin(k.config, test::rounded_reference(k.config, k.seeds, 2).forward);
    CAPTURE(k.config.capacity_factor);
    CAPTURE(static_cast<int>(k.config.routing));
    MESSAGE("routing margin " << margin);
    CHECK(margin >= test::kMinRoutingMargin);
  }
  // The bf16 rounding the reference applies to the inputs: nearest, ties to even.
  CHECK(ref::round_to_bf16(1.0) == 1.0);
  CHECK(ref::round_to_bf16(1.0 + 1.0 / 256) == 1.0);            // the tie between 1 and 1 + 2^-7 goes to even
  CHECK(ref::round_to_bf16(1.0 + 3.0 / 256) == 1.0 + 1.0 / 64);  // the tie between 1 + 2^-7 and 1 + 2^-6 too
  CHECK(ref::round_to_bf16(1.0 + 1.5 / 256) == 1.0 + 1.0 / 128);
  CHECK(ref::round_to_bf16(-3.0e-3) == doctest::Approx(-3.0e-3).epsilon(1.0 / 256));
}

TEST_CASE("runner: an output path it could not write is refused before any step runs") {
  runner::RunOptions o;
  o.scenario = kSource / "scenarios" / "validation" / "xl-8e-b8.json";
  o.json = kSource / "no-such-folder" / "run.json";
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("--json: '"), InputError);
  o.json.clear();
  o.trace = kSource / "scenarios";  // a folder
  CHECK_THROWS_WITH_AS(runner::resolve_run_config(o, 1), doctest::Contains("--trace: '"), InputError);
}

}  // namespace ecsim
