// `ecsim validate`: a measured run made from a simulation with known distortions must be matched
// operator by operator and report exactly those distortions.
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "result/outputs.hpp"
#include "validate/validation.hpp"

using namespace ecsim;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(ECSIM_SOURCE_DIR) / "tests" / "golden";

// A "measured" run: every compute task of the simulation, with GEMMs `gemm_factor` slower.
MeasuredRun run_from_simulation(const SimulationResult& sim, double gemm_factor, std::vector<double> step_factors) {
  MeasuredRun run;
  run.file = "synthetic.json";
  run.scenario_name = sim.scenario.name;
  run.layout = layout_to_string(sim.plan.layout);
  run.device = "synthetic";
  run.model = model_to_json(sim.scenario.model);  // as ecsim-run records what trained
  run.images_per_step = sim.scenario.run.global_batch;
  run.optimizer = optimizer_to_json(sim.scenario.run.optimizer);
  for (double f : step_factors) run.step_times_s.push_back(sim.step_time.value * f);
  for (std::size_t t = 0; t < sim.graph.tasks.size(); ++t) {
    const Task& task = sim.graph.tasks[t];
    if (task.is_comm) continue;
    const auto& tt = sim.engine.timing[t];
    const double ns = static_cast<double>((tt.finish - tt.start).value);
    run.ops.push_back({sim.graph.rank_ids[static_cast<std::size_t>(task.rank)], task.name, task.label, task.layer,
                       task.micro_batch, phase_name(task.phase), task.name == "gemm" ? ns * gemm_factor : ns});
  }
  return run;
}

}  // namespace

TEST_CASE("validate matches every operator and reports the distortion per kind and per step") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const SimulationResult sim = simulate(s, plan_layout(s), cost);
  const MeasuredRun run = run_from_simulation(sim, 1.25, {1.1, 1.2});
  const Validation v = validate_run(s, run, cost);
  CHECK(v.matched == static_cast<std::int64_t>(run.ops.size()));
  CHECK(v.unmatched_measured == 0);
  CHECK(v.unmatched_predicted == 0);
  for (const auto& k : v.per_kind) {
    CAPTURE(k.kind);
    // GEMMs measured 1.25x slower: predicted/measured - 1 = 1/1.25 - 1 = -0.2; others exact.
    const double expected = k.kind.rfind("gemm ", 0) == 0 ? 1 / 1.25 - 1 : 0.0;
    CHECK(k.error() == doctest::Approx(expected).epsilon(1e-9));
  }
  // The largest disagreement is carried by the GEMMs.
  CHECK(v.per_kind.front().kind.rfind("gemm ", 0) == 0);
  // Steps measured 1.1x and 1.2x the prediction: MAPE = (|1/1.1 - 1| + |1/1.2 - 1|) / 2.
  CHECK(v.mape == doctest::Approx((1 - 1 / 1.1 + 1 - 1 / 1.2) / 2));
  const Json j = validation_to_json(v);
  CHECK(j["schema"] == "ecsim.validation/1");
  CHECK(j["per_op"].size() == v.per_kind.size());
}

TEST_CASE("validate reports the time between operators and the host's time inside them") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const SimulationResult sim = simulate(s, plan_layout(s), cost);
  // The operators as predicted, but the step 1.25x longer: a quarter of the prediction idle
  // between them. First with the host well ahead (1 us per op), then pacing the step.
  MeasuredRun run = run_from_simulation(sim, 1.0, {1.25});
  double ops_s = 0;
  for (const MeasuredOp& op : run.ops) ops_s += op.time_ns / 1e9;
  const double step_s = run.step_times_s.front();
  for (MeasuredOp& op : run.ops) op.host_ns = 1000;
  const Validation ahead = validate_run(s, run, cost);
  CHECK(ahead.host_between_ops_s == 0);  // a run file without the runner's host time between operators
  CHECK(ahead.measured_between_ops_s == doctest::Approx(step_s - ops_s));
  CHECK(ahead.measured_between_ops_s == doctest::Approx(0.25 * sim.step_time.value).epsilon(0.01));
  CHECK(ahead.predicted_between_ops_s == doctest::Approx(0).epsilon(1e-9).scale(sim.step_time.value));
  CHECK(ahead.host_in_ops_s == doctest::Approx(1e-6 * static_cast<double>(run.ops.size())));
  double kinds_host = 0;
  for (const KindError& k : ahead.per_kind) kinds_host += k.measured_host_s;
  CHECK(kinds_host == doctest::Approx(ahead.host_in_ops_s));
  std::ostringstream text;
  print_validation(ahead, text);
  CHECK(text.str().find("(20.0% of the step): the GPU idles there, beyond the prediction") != std::string::npos);
  CHECK(text.str().find("pace the step") == std::string::npos);
  for (MeasuredOp& op : run.ops) op.host_ns = 0.9 * step_s * 1e9 / static_cast<double>(run.ops.size());
  const Validation paced = validate_run(s, run, cost);
  std::ostringstream paced_text;
  print_validation(paced, paced_text);
  CHECK(paced_text.str().find("(90% of the measured step): the host's kernel launches pace the step") !=
        std::string::npos);
  CHECK(paced_text.str().find("; between them") == std::string::npos);
  const Json j = validation_to_json(paced);
  CHECK(j["between_operators"]["measured_s"].get<double>() == doctest::Approx(step_s - ops_s));
  CHECK(j["host_in_operators_s"].get<double>() == doctest::Approx(0.9 * step_s));
  // The runner's host time between operators (since 2026-11-29): summed over the first rank, printed
  // beside the time inside them, and in the JSON; it survives the run file's round trip.
  for (MeasuredOp& op : run.ops) op.host_gap_ns = 0.05 * step_s * 1e9 / static_cast<double>(run.ops.size());
  const Validation gapped = validate_run(s, run, cost);
  CHECK(gapped.host_between_ops_s == doctest::Approx(0.05 * step_s));
  std::ostringstream gapped_text;
  print_validation(gapped, gapped_text);
  CHECK(gapped_text.str().find("(90% of the measured step); between them ") != std::string::npos);
  CHECK(gapped_text.str().find(" (5%): the host's kernel launches pace the step") != std::string::npos);
  CHECK(validation_to_json(gapped)["host"]["measured_between_operators_s"].get<double>() ==
        doctest::Approx(0.05 * step_s));
  const auto round_trip_file = std::filesystem::temp_directory_path() / "ecsim_validate_gap_run.json";
  std::ofstream(round_trip_file) << measured_run_to_json(run).dump();
  CHECK(load_measured_run(round_trip_file).ops.front().host_gap_ns == doctest::Approx(run.ops.front().host_gap_ns));
  std::filesystem::remove(round_trip_file);
  // A run file written before host times were recorded reads as 0 and prints no host line.
  for (MeasuredOp& op : run.ops) op.host_ns = 0;
  std::ostringstream old_text;
  print_validation(validate_run(s, run, cost), old_text);
  CHECK(old_text.str().find("host time inside") == std::string::npos);
}

TEST_CASE("a profile's host times pace a step of short kernels, in simulate and in validate") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  // The analytic profile as if measured with a slow host: 60 us to enqueue each timed run, 2 us of
  // it the event pair.
  Profile p = load_profile(std::filesystem::path(ECSIM_SOURCE_DIR) / "profiles" / "h100-sxm-analytic.json");
  const auto plain = ComputeCostModel::from_profile(p, s.cluster->gpu);
  p.source = "measured";
  p.event_pair_host = ProfileEventPairHost{2000, 2000, 2000};
  for (ProfileEntry& e : p.ops) e.samples = 20, e.host_ns = 60000;
  const auto slow_host = ComputeCostModel::from_profile(p, s.cluster->gpu);
  const SimulationResult fast = simulate(s, plan_layout(s), plain);
  const SimulationResult slow = simulate(s, plan_layout(s), slow_host);
  CHECK(!fast.host_priced);
  CHECK(fast.host_wait.value == 0);
  REQUIRE(slow.host_priced);
  // Every kernel call takes the host 58 us: the step is at least the host's issue of them all,
  // and the GPU waits for it.
  double calls = 0, tasks = 0;
  for (const Task& t : slow.graph.tasks) {
    if (t.is_comm) continue;
    calls += static_cast<double>(t.host.value) / 58000.0;
    ++tasks;
  }
  CHECK(calls >= tasks);  // each operator runs one kernel call or more
  CHECK(slow.host_issue.value == doctest::Approx(calls * 58e-6));
  CHECK(slow.step_time.value >= slow.host_issue.value);
  CHECK(slow.step_time.value > fast.step_time.value);
  CHECK(slow.host_wait.value > 0);
  // The breakdown still adds up to the step; the wait is inside compute.
  CHECK(slow.compute.value + slow.exposed_comm.value + slow.bubble.value ==
        doctest::Approx(slow.pass_time.value).epsilon(1e-6));
  CHECK(slow.host_wait.value <= slow.compute.value);
  // The trace shows the host's issue of each compute task on a thread of its own.
  const Json trace = Json::parse(trace_json(slow));
  std::int64_t host_events = 0;
  for (const Json& e : trace["traceEvents"]) host_events += e.value("cat", "") == "host" ? 1 : 0;
  CHECK(static_cast<double>(host_events) == tasks);
  CHECK(trace_json(slow).find("host (issuing the compute stream's kernels)") != std::string::npos);
  CHECK(trace_json(fast).find("\"host\"") == std::string::npos);

  // validate prices each operator's event pair on top, and says how long the GPU waits.
  const MeasuredRun run = run_from_simulation(fast, 1.0, {1.0});
  const Validation v = validate_run(s, run, slow_host);
  CHECK(v.host_priced);
  CHECK(v.predicted_step_s > slow.step_time.value);
  const double event_pairs_s = 2e-6 * static_cast<double>(run.ops.size());
  CHECK(v.predicted_host_in_ops_s == doctest::Approx(slow.host_issue.value + event_pairs_s));
  CHECK(v.predicted_gpu_wait_for_host_s > 0);
  std::ostringstream text;
  print_validation(v, text);
  CHECK(text.str().find("host lane (the profile's host times): the host issues the operators in") != std::string::npos);
  CHECK(text.str().find("host: predicted ms  measured ms") != std::string::npos);
  // Per kind, the host times add up to the totals.
  double kinds_host = 0;
  for (const KindError& k : v.per_kind) kinds_host += k.predicted_host_s;
  CHECK(kinds_host == doctest::Approx(v.predicted_host_in_ops_s));
  const Json j = validation_to_json(v);
  CHECK(j["host"]["priced"] == true);
  CHECK(j["host"]["predicted_gpu_wait_s"].get<double>() == doctest::Approx(v.predicted_gpu_wait_for_host_s));
  // Without host times, no host lane and no such line.
  const Validation none = validate_run(s, run, plain);
  CHECK(!none.host_priced);
  CHECK(none.predicted_step_s == doctest::Approx(fast.step_time.value));
  std::ostringstream none_text;
  print_validation(none, none_text);
  CHECK(none_text.str().find("host lane") == std::string::npos);
  CHECK(none_text.str().find("host: predicted") == std::string::npos);
}

TEST_CASE("validate matches the expert-parallel all-to-alls that ecsim-run times, and no other collective") {
  // ecsim-run times "all_to_all" labelled ep.dispatch / ep.combine (kernels/runner/op_plan.hpp).
  const auto file = std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "validation" / "xl-8e-ep2.json";
  const Scenario s = load_scenario(file);
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const SimulationResult sim = simulate(s, plan_layout(s), cost);
  MeasuredRun run = run_from_simulation(sim, 1.0, {1.0});
  const std::size_t compute_ops = run.ops.size();
  std::int64_t other_comm = 0;
  for (std::size_t t = 0; t < sim.graph.tasks.size(); ++t) {
    const Task& task = sim.graph.tasks[t];
    if (!task.is_comm) continue;
    if (task.label.rfind("ep.", 0) != 0) {
      ++other_comm;
      continue;
    }
    const auto& tt = sim.engine.timing[t];
    const double ns = static_cast<double>((tt.finish - tt.start).value);
    run.ops.push_back({sim.graph.rank_ids[static_cast<std::size_t>(task.rank)], task.name, task.label, task.layer,
                       task.micro_batch, phase_name(task.phase), 2.0 * ns});
  }
  REQUIRE(run.ops.size() > compute_ops);  // the MoE layers' dispatch and combine, forward and backward
  CHECK(other_comm > 0);                  // the gradient all-reduces: not measured, not expected
  const Validation v = validate_run(s, run, cost);
  CHECK(v.matched == static_cast<std::int64_t>(run.ops.size()));
  CHECK(v.unmatched_measured == 0);
  CHECK(v.unmatched_predicted == 0);
  bool found = false;
  for (const auto& k : v.per_kind) {
    if (k.kind != "all_to_all (forward)") continue;
    found = true;
    CHECK(k.error() == doctest::Approx(1 / 2.0 - 1));  // measured twice the prediction
  }
  CHECK(found);
}

TEST_CASE("ecsim validate from files, a bad run file exits 2 naming its path") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const SimulationResult sim = simulate(s, plan_layout(s), cost);
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_validate_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto run_file = dir / "run.json";
  std::ofstream(run_file) << measured_run_to_json(run_from_simulation(sim, 1.0, {1.0})).dump();
  const CliResult good = run_ecsim("validate --measured " + run_file.string() + " --scenario " +
                                   (kGolden / "xl-dense-1gpu.json").string() + " --json " + (dir / "v.json").string());
  CAPTURE(good.output);
  CHECK(good.exit_code == 0);
  CHECK(good.output.find("MAPE 0.0%") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "v.json"));

  Json bad = measured_run_to_json(run_from_simulation(sim, 1.0, {1.0}));
  bad["ops"][3]["phase"] = "sideways";
  std::ofstream(dir / "bad.json") << bad.dump();
  const CliResult rejected = run_ecsim("validate --measured " + (dir / "bad.json").string() + " --scenario " +
                                       (kGolden / "xl-dense-1gpu.json").string() + " --json " + (dir / "v2.json").string());
  CHECK(rejected.exit_code == 2);
  CHECK(rejected.output.find("bad.json: /ops/3/phase: must be one of") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "v2.json"));
  Json negative_gap = measured_run_to_json(run_from_simulation(sim, 1.0, {1.0}));
  negative_gap["ops"][2]["host_gap_ns"] = -5;
  std::ofstream(dir / "gap.json") << negative_gap.dump();
  const CliResult gap = run_ecsim("validate --measured " + (dir / "gap.json").string() + " --scenario " +
                                  (kGolden / "xl-dense-1gpu.json").string());
  CHECK(gap.exit_code == 2);
  CHECK(gap.output.find("gap.json: /ops/2/host_gap_ns") != std::string::npos);

  // A measured profile of another device than the run's (the synthetic run's is "synthetic"): the
  // validation runs, and says so, in print and in its JSON.
  std::ifstream analytic(std::filesystem::path(ECSIM_SOURCE_DIR) / "profiles" / "h100-sxm-analytic.json");
  Json profile = Json::parse(analytic);
  profile["source"] = "measured";
  profile["device"]["name"] = "NVIDIA H100 80GB HBM3";
  for (Json& op : profile["ops"]) op["samples"] = 20;
  std::ofstream(dir / "measured.json") << profile.dump();
  const CliResult warned = run_ecsim("validate --measured " + run_file.string() + " --scenario " +
                                     (kGolden / "xl-dense-1gpu.json").string() + " --profile " +
                                     (dir / "measured.json").string() + " --json " + (dir / "v3.json").string());
  CAPTURE(warned.output);
  CHECK(warned.exit_code == 0);
  const std::string warning = "the run was measured on synthetic, the profile on NVIDIA H100 80GB HBM3";
  CHECK(warned.output.find("WARNING: " + warning) != std::string::npos);
  std::ifstream written(dir / "v3.json");
  const Json v3 = Json::parse(written);
  REQUIRE(v3["warnings"].size() == 1);
  CHECK(v3["warnings"][0].get<std::string>().rfind(warning, 0) == 0);
  CHECK(good.output.find("WARNING: the run was measured") == std::string::npos);  // no profile, no such warning
  std::filesystem::remove_all(dir);
}

TEST_CASE("validate refuses a run of another model or batch than the scenario's, naming where they differ") {
  const Scenario s = load_scenario(kGolden / "xl-dense-1gpu.json");
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const SimulationResult sim = simulate(s, plan_layout(s), cost);
  const MeasuredRun same = run_from_simulation(sim, 1.0, {1.0});
  CHECK_NOTHROW(validate_run(s, same, cost));
  // Round trip through the file form.
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_validate_identity_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "run.json") << measured_run_to_json(same).dump();
  const MeasuredRun reread = load_measured_run(dir / "run.json");
  CHECK(reread.model == same.model);
  CHECK(reread.images_per_step == s.run.global_batch);
  CHECK(reread.optimizer == same.optimizer);
  CHECK(!reread.optimizer.is_null());
  std::filesystem::remove_all(dir);

  MeasuredRun other_width = same;
  other_width.model["hidden"] = 3072;
  CHECK_THROWS_WITH_AS(validate_run(s, other_width, cost),
                       doctest::Contains("synthetic.json: /model/hidden: the run trained 3072, "), InputError);
  MeasuredRun other_heads = same;
  other_heads.model["attention"]["kv_heads"] = 3;
  CHECK_THROWS_WITH_AS(validate_run(s, other_heads, cost), doctest::Contains("/model/attention/kv_heads"), InputError);
  MeasuredRun extra = same;
  extra.model["moe"] = Json::object();
  CHECK_THROWS_WITH_AS(validate_run(s, extra, cost), doctest::Contains("/model/moe: the run trained {}, "), InputError);
  MeasuredRun other_batch = same;
  other_batch.images_per_step = s.run.global_batch + 1;
  CHECK_THROWS_WITH_AS(validate_run(s, other_batch, cost), doctest::Contains("/images_per_step: the run trained"),
                       InputError);
  // The optimizer's recipe, where the run records it (ecsim-run since 2026-11-28).
  MeasuredRun bf16_state = same;
  bf16_state.optimizer["master_dtype"] = "bf16";
  CHECK_THROWS_WITH_AS(validate_run(s, bf16_state, cost),
                       doctest::Contains("/optimizer/master_dtype: the run stepped \"bf16\", "), InputError);
  // A slice of the model (--layers) is the scenario's model with the blocks that ran.
  MeasuredRun slice = same;
  slice.layers = 2;
  slice.model["layers"] = 2;
  slice.ops.clear();  // what matched is not the question here
  CHECK_NOTHROW(validate_run(s, slice, cost));
  // A run file that records neither is not checked.
  MeasuredRun unrecorded = same;
  unrecorded.model = Json();
  unrecorded.images_per_step = 0;
  CHECK_NOTHROW(validate_run(s, unrecorded, cost));
}

TEST_CASE("validate reports one block's step per kind: its forward, backward and share of the optimizer step") {
  const auto file = std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "validation" / "xl-8e-b8.json";
  const Scenario s = load_scenario(file);
  const auto cost = ComputeCostModel::analytic(s.cluster->gpu);
  const SimulationResult sim = simulate(s, plan_layout(s), cost);
  const MeasuredRun run = run_from_simulation(sim, 1.25, {1.0});
  const Validation v = validate_run(s, run, cost);
  REQUIRE(v.blocks.size() == 2);
  CHECK(v.blocks[0].kind == "dense block");
  CHECK(v.blocks[1].kind == "MoE block");
  CHECK(v.blocks[0].blocks == 14);  // 28 blocks, MoE from block 1 on, every other one
  CHECK(v.blocks[1].blocks == 14);
  // The blocks hold nearly all parameters (the rest: patch and timestep embedding, final layer).
  const double blocks_share = 14 * (v.blocks[0].param_share + v.blocks[1].param_share);
  CHECK(blocks_share < 1.0);
  CHECK(blocks_share > 0.99);
  CHECK(v.blocks[1].param_share > 3 * v.blocks[0].param_share);  // 8 experts of 8 d^2 in place of one
  // Worked from the run's own ops: block 1 (MoE) forward, and its step with the optimizer share.
  double forward = 0, all = 0, optimizer = 0;
  for (const MeasuredOp& op : run.ops) {
    if (op.phase == "optimizer") optimizer += op.time_ns * 1e-9;
    if (op.layer != 1) continue;
    all += op.time_ns * 1e-9;
    if (op.phase == "forward") forward += op.time_ns * 1e-9;
  }
  CHECK(v.blocks[1].measured_forward_s == doctest::Approx(forward).epsilon(1e-9));  // every MoE block alike
  CHECK(v.blocks[1].measured_step_s == doctest::Approx(all + v.blocks[1].param_share * optimizer).epsilon(1e-9));
  // GEMMs measured 1.25x slower: every block is measured slower than predicted, by less than 25%.
  for (const BlockTime& b : v.blocks) {
    CAPTURE(b.kind);
    CHECK(b.error() < 0);
    CHECK(b.error() > 1 / 1.25 - 1);
  }
  const Json j = validation_to_json(v);
  CHECK(j["blocks"].size() == 2);
  CHECK(j["blocks"][1]["step"]["measured_s"].get<double>() == doctest::Approx(v.blocks[1].measured_step_s));
}

TEST_CASE("validate reproduces every committed validation run from its run file") {
  // docs/validation-runs/<profile>/NAME.run.json and NAME.validation.json, as
  // scripts/validate_on_gpu.sh wrote them on the GPU; NAME is the scenario in scenarios/validation/,
  // <profile> the profile in profiles/ that priced the prediction (docs/VALIDATION.md).
  const auto root = std::filesystem::path(ECSIM_SOURCE_DIR);
  std::vector<std::filesystem::path> validations;
  if (std::filesystem::exists(root / "docs" / "validation-runs")) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / "docs" / "validation-runs")) {
      const std::string name = entry.path().filename().string();
      if (name.size() > 16 && name.ends_with(".validation.json")) validations.push_back(entry.path());
    }
  }
  if (validations.empty()) {
    std::cout << "skipped until committed: no validation runs in docs/validation-runs/ yet\n";
    return;
  }
  for (const std::filesystem::path& file : validations) {
    CAPTURE(file);
    const std::string name = file.filename().string().substr(0, file.filename().string().size() - 16);
    const Scenario s = load_scenario(root / "scenarios" / "validation" / (name + ".json"));
    const Profile profile = load_profile(root / "profiles" / (file.parent_path().filename().string() + ".json"));
    const auto cost = ComputeCostModel::from_profile(profile, s.cluster->gpu, &*s.cluster);
    const Validation v = validate_run(s, load_measured_run(file.parent_path() / (name + ".run.json")), cost);
    std::ifstream in(file);
    const Json committed = Json::parse(in);
    CHECK(v.predicted_step_s == doctest::Approx(committed["step_time"]["predicted_s"].get<double>()).epsilon(1e-9));
    CHECK(v.measured_step_mean_s ==
          doctest::Approx(committed["step_time"]["measured_mean_s"].get<double>()).epsilon(1e-12));
    CHECK(v.mape == doctest::Approx(committed["mape"].get<double>()).epsilon(1e-9));
    CHECK(v.matched == committed["matching"]["matched"].get<std::int64_t>());
    // The predicted peak in its three parts; the part the runner's allocator holds against its
    // measured peak: the memory model's parameters, gradients, optimizer states, saved activations
    // and one layer's backward gradients within 4% of the H100 runs' (2026-11-28: -0.1 to -3.5%;
    // these runs' runner still kept the cross-attention's output in a buffer of its own, T x d per
    // block, most of what is left: 0.98 of pt-xl-dense-b64's 1.14 GiB).
    CHECK(v.predicted_buffers_bytes + v.predicted_frozen_bytes + v.predicted_context_and_comm_bytes ==
          doctest::Approx(v.predicted_peak_memory_bytes).epsilon(1e-12));
    CHECK(v.predicted_frozen_bytes == doctest::Approx(s.model.other_params * 2));
    CHECK(v.predicted_buffers_bytes == doctest::Approx(v.measured_peak_memory_bytes).epsilon(0.04));
    CHECK(v.predicted_buffers_bytes == doctest::Approx(committed["memory"]["predicted_buffers_bytes"].get<double>()));
  }
}
