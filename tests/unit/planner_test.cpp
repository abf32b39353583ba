// The planner (`ecsim plan`): --gpus specs, enumeration counts derived by hand, memory of every
// reported layout, determinism across runs and thread counts, the screen against the engine,
// the Pareto front, and bad --gpus specs through the real binary (exit 2, nothing written).
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plan/enumerate.hpp"
#include "plan/gpu_counts.hpp"
#include "plan/plan_output.hpp"
#include "plan/planner.hpp"

using namespace ecsim;

namespace {

std::filesystem::path default_scenario_file() {
  return std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "ecdit-m-64e-train.json";
}

// EC-DiT-M-64E (48 heads, 12 KV heads, 38 layers, 64 experts, 128 tokens per training image,
// routing groups of 1024 tokens: mbs a multiple of 8) on `gpus` H100 with `batch` images a step.
Scenario small_scenario(std::int64_t gpus, std::int64_t batch) {
  Scenario s = load_scenario(default_scenario_file());
  s.cluster->gpus = gpus;
  s.run.global_batch = batch;
  return s;
}

PlanSettings settings_for(std::vector<std::int64_t> gpus) {
  PlanSettings st;
  st.gpu_counts = std::move(gpus);
  return st;
}

}  // namespace

TEST_CASE("--gpus takes a count, a list, or a range with a factor") {
  CHECK(parse_gpu_counts("1024", 8) == std::vector<std::int64_t>{1024});
  CHECK(parse_gpu_counts("2048,512,1024,512", 8) == std::vector<std::int64_t>{512, 1024, 2048});
  CHECK(parse_gpu_counts("512..4096x2", 8) == std::vector<std::int64_t>{512, 1024, 2048, 4096});
  CHECK(parse_gpu_counts("512..4000x2", 8) == std::vector<std::int64_t>{512, 1024, 2048});  // stops below the end
  CHECK(parse_gpu_counts("64..64x4,256", 8) == std::vector<std::int64_t>{64, 256});
  CHECK_THROWS_WITH_AS(parse_gpu_counts("1000", 16), doctest::Contains("1000 GPUs do not fill whole nodes of 16"), InputError);
  CHECK_THROWS_WITH_AS(parse_gpu_counts("512..4096", 8), doctest::Contains("has no factor"), InputError);
  CHECK_THROWS_WITH_AS(parse_gpu_counts("8..1048576x1", 8), doctest::Contains("factor 1 must be at least 2"), InputError);
  CHECK_THROWS_WITH_AS(parse_gpu_counts("8..1048576x1", 8), doctest::Contains("--gpus '8..1048576x1'"), InputError);
}

TEST_CASE("enumeration counts on 16 GPUs, global batch 64, match the hand count") {
  // tp: divisors of 8 that divide 48 heads: 1, 2, 4, 8. pp: divisors of 38: 1, 2, 19, 38.
  // pp 19 and 38 leave no whole dp on 16 GPUs: 4 tp x 2 pp = 8 layouts, each rejected once
  //   ("tp x pp does not divide").
  // tp 1, pp 1: dp 16, 4 images per rank, no mbs fills a group of 8 images: 1 layout rejected (mbs).
  // Otherwise ep | gcd(64, dp), zero 0..3, recompute 3 ways, vpp 1 (pp 1) or 1, 19 (pp 2):
  //   tp 2 pp 1: dp 8, batch/rank 8, mbs {8}, ep {1,2,4,8}:     4 x 4 x 1 x 3     =  48, all valid
  //   tp 4 pp 1: dp 4, batch/rank 16, mbs {8,16}, ep {1,2,4}:   3 x 4 x 2 x 3     =  72, all valid
  //   tp 8 pp 1: dp 2, mbs {8,16,32}, ep {1,2}:                 2 x 4 x 3 x 3     =  72, all KV (8 vs 12 KV heads)
  //   tp 1 pp 2: dp 8, mbs {8}, ep 4 values, vpp 2 values:      4 x 4 x 1 x 3 x 2 =  96:
  //              zero 3 with pp: 4 x 1 x 3 x 2 = 24; vpp 19 needs m (=1) % 2 == 0: 4 x 3 x 3 = 36; valid 36
  //   tp 2 pp 2: dp 4, mbs {8,16}, ep 3 values:                 3 x 4 x 2 x 3 x 2 = 144:
  //              zero 3: 3 x 2 x 3 x 2 = 36; vpp 19 with mbs 16 (m = 1): 3 x 3 x 3 = 27; valid 81
  //   tp 4 pp 2: dp 2, mbs {8,16,32}, ep 2 values:              2 x 4 x 3 x 3 x 2 = 144:
  //              zero 3: 2 x 3 x 3 x 2 = 36; vpp 19 with mbs 32 (m = 1): 2 x 3 x 3 = 18; valid 90
  //   tp 8 pp 2: dp 1, mbs {8,16,32,64}, ep {1}:                1 x 4 x 4 x 3 x 2 =  96, all KV
  // Enumerated 8 + 1 + 48 + 72 + 72 + 96 + 144 + 144 + 96 = 681; valid 48 + 72 + 36 + 81 + 90 = 327;
  // rejected: 8 (tp x pp) + 1 (mbs) + 168 (KV) + 96 (ZeRO-3) + 81 (interleaved) = 354.
  const Enumeration e = enumerate_layouts(small_scenario(16, 64));
  CHECK(e.enumerated == 681);
  CHECK(e.valid.size() == 327);
  std::map<std::string, std::int64_t> expected{
      {"tp: tp x pp = N does not divide N GPUs", 8},
      {"mbs: global batch N is not a multiple of dp x mbs = N x N = N", 1},
      {"tp: tp N and N KV heads: one must divide the other", 168},
      {"zero: ZeRO-3 (FSDP) with pipeline parallelism is not supported; use zero <= N", 96},
      {"vpp: interleaved 1F1B needs the micro-batch count (N) to be a multiple of pp N", 81},
  };
  CHECK(e.invalid_by_reason == expected);
}

TEST_CASE("every layout the planner reports fits in the memory limit, and each is ranked by images/s") {
  PlanSettings st = settings_for({1024});
  st.top = 5;
  st.simulate_factor = 2;
  const Scenario s = load_scenario(default_scenario_file());
  const PlanResult r = run_plan(s, st);
  REQUIRE(r.candidates.size() == 10);
  CHECK(r.counts.simulated == 10);
  CHECK(r.counts.screened + r.counts.not_fitting + [&] {
    std::int64_t n = 0;
    for (const auto& [why, k] : r.counts.invalid_by_reason) n += k;
    return n;
  }() == r.counts.enumerated);
  for (std::size_t i = 0; i < r.candidates.size(); ++i) {
    const PlanCandidate& c = r.candidates[i];
    CAPTURE(layout_to_string(c.plan.layout));
    CHECK(c.fits());
    // The engine's own memory model, run again, agrees, and the limit is 90% of 80 GiB.
    Scenario sg = s;
    sg.cluster->gpus = c.gpus;
    CHECK(peak_memory(sg, c.plan).peak().value == doctest::Approx(c.memory.peak().value));
    CHECK(c.memory.peak().value <= 0.9 * parse_bytes("80GiB").value);
    if (i > 0) CHECK(c.images_per_s <= r.candidates[i - 1].images_per_s);
  }
  // The same through the JSON file's keys.
  const Json j = plan_to_json(r);
  CHECK(j["schema"] == "ecsim.plan/1");
  for (const auto& c : j["candidates"]) {
    CHECK(c["fits"] == true);
    CHECK(c["memory_peak_bytes"].get<double>() <= j["headroom"].get<double>() * c["hbm_bytes"].get<double>());
    for (const char* key : {"gpus", "layout", "layout_keys", "screen_step_time_s", "step_time_s", "images_per_s", "mfu",
                            "limiter", "breakdown", "time_to_train_s", "gpu_hours"}) {
      CHECK(c.contains(key));
    }
  }
  for (const char* key : {"enumerated", "invalid_by_reason", "not_fitting", "screened", "simulated"}) {
    CHECK(j["counts"].contains(key));
  }
  CHECK(j["screen_vs_engine"].contains("median_ratio"));
  CHECK(j["screen_vs_engine"].contains("max_ratio"));
  CHECK(j["pareto"].size() == 1);  // one GPU count: the fastest layout is the front
  CHECK(j["pareto"][0]["layout"] == j["candidates"][0]["layout"]);
  // The scenario's own layout is simulated as the yardstick, and the plan is no slower.
  REQUIRE(r.scenario_layout.has_value());
  CHECK(j["scenario_layout"]["layout"] == "dp=256,tp=2,pp=2,vpp=19,ep=64,zero=2,mbs=8,recompute=none");
  CHECK(r.candidates.front().images_per_s >= r.scenario_layout->images_per_s);
}

TEST_CASE("the plan is the same with 1 or 2 threads") {
  PlanSettings st = settings_for({64, 128});
  st.top = 3;
  const Scenario s = small_scenario(64, 512);
  st.threads = 1;
  const std::string one = plan_to_json(run_plan(s, st)).dump();
  st.threads = 2;
  const std::string two = plan_to_json(run_plan(s, st)).dump();
  CHECK(one == two);
}

TEST_CASE("the screen puts the engine's best layout among its first few") {
  // 64 GPUs, global batch 512: every fitting layout goes to the engine, so the engine's ranking
  // is complete and the screen's rank of the engine's best can be read off.
  PlanSettings st = settings_for({64});
  st.top = 1;
  st.simulate_factor = 100000;
  const PlanResult r = run_plan(small_scenario(64, 512), st);
  REQUIRE(r.candidates.size() > 50);
  REQUIRE(r.counts.simulated == r.counts.screened);
  const PlanCandidate& best = r.candidates.front();
  std::size_t screen_rank = 0;  // how many the screen put strictly ahead of the engine's best
  for (const PlanCandidate& c : r.candidates) {
    if (c.screen.step_time < best.screen.step_time) ++screen_rank;
  }
  MESSAGE("engine's best " << layout_to_string(best.plan.layout) << " is the screen's #" << screen_rank + 1 << " of "
                           << r.candidates.size() << "; screen / engine median " << r.median_ratio << ", range "
                           << r.min_ratio << " .. " << r.max_ratio);
  CHECK(screen_rank < 5);
  CHECK(r.median_ratio == doctest::Approx(1.0).epsilon(0.25));
}

TEST_CASE("the Pareto front keeps the points no other beats in both time and GPU-hours") {
  std::vector<PlanCandidate> c(4);
  // (time to train, GPU-hours): (10, 100) front; (20, 50) front; (15, 120) beaten by (10, 100);
  // (30, 50) beaten by (20, 50) (equal cost, slower).
  const double points[4][2] = {{10, 100}, {20, 50}, {15, 120}, {30, 50}};
  for (std::size_t i = 0; i < 4; ++i) {
    c[i].time_to_train = Seconds{points[i][0]};
    c[i].gpu_hours = points[i][1];
  }
  CHECK(pareto_front(c) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("ecsim plan writes the same JSON twice, and bad --gpus specs exit 2 and write nothing") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_planner_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string scenario = default_scenario_file().string();
  const auto a = dir / "a.json", b = dir / "b.json";
  const CliResult ra = run_ecsim("plan " + scenario + " --gpus 1024,2048 --top 3 --json " + a.string());
  CAPTURE(ra.output);
  REQUIRE(ra.exit_code == 0);
  CHECK(ra.output.find("best layouts on 1024 GPUs") != std::string::npos);
  CHECK(ra.output.find("Pareto") != std::string::npos);
  const CliResult rb = run_ecsim("plan " + scenario + " --gpus 2048,1024 --top 3 --threads 1 --json " + b.string());
  REQUIRE(rb.exit_code == 0);
  CHECK(read_text(a) == read_text(b));
  const auto j = nlohmann::json::parse(read_text(a));
  CHECK(j["gpus"] == nlohmann::json::array({1024, 2048}));

  for (const std::string spec : {"0", "abc", "1001", "-8", "1024,", "512..256x2", "512..4096", "512..4096x1", "8..1048576x2,8x"}) {
    CAPTURE(spec);
    const auto out = dir / "bad.json";
    std::filesystem::remove(out);
    const CliResult r = run_ecsim("plan " + scenario + " --gpus '" + spec + "' --json " + out.string());
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("--gpus") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
  const CliResult headroom = run_ecsim("plan " + scenario + " --gpus 1024 --headroom 1.5");
  CHECK(headroom.exit_code == 2);
  CHECK(headroom.output.find("--headroom") != std::string::npos);
}
