// `ecsim simulate` as a user runs it: the default scenario with every output, the files' contract
// keys, the trace's ranks and streams, and bad layouts that exit 2 and write nothing.
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace {

std::filesystem::path fresh_dir(const char* name) {
  const auto d = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("ecsim simulate with no scenario runs the embedded default and writes every output") {
  const auto dir = fresh_dir("ecsim_simulate_cli_test");
  const auto json = dir / "r.json", trace = dir / "t.json", csv = dir / "o.csv";
  const CliResult r = run_ecsim("simulate --json " + json.string() + " --trace " + trace.string() + " --csv " + csv.string());
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("EC-DiT-M-64E training on 1024 H100") != std::string::npos);
  CHECK(r.output.find("step time") != std::string::npos);
  CHECK(r.output.find("critical path") != std::string::npos);

  const auto j = nlohmann::json::parse(read_text(json));
  CHECK(j["schema"] == "ecsim.result/1");
  for (const char* key : {"scenario", "step_time_s", "images_per_s", "tokens_per_s", "model_tflops_per_gpu", "mfu",
                          "memory", "communication", "breakdown"}) {
    CAPTURE(key);
    CHECK(j.contains(key));
  }
  for (const char* key : {"per_gpu_peak_bytes", "hbm_bytes", "fits", "breakdown"}) CHECK(j["memory"].contains(key));
  for (const char* key : {"params", "grads", "optimizer", "activations", "comm_buffers", "workspace"}) {
    CHECK(j["memory"]["breakdown"].contains(key));
  }
  for (const char* key : {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "p2p"}) {
    CHECK(j["communication"]["bytes_per_gpu"].contains(key));
  }
  CHECK(j["communication"].contains("exposed_s"));
  for (const char* key : {"compute_s", "exposed_comm_s", "bubble_s"}) CHECK(j["breakdown"].contains(key));
  // The breakdown adds up to the step on the slowest rank.
  const double sum = j["breakdown"]["compute_s"].get<double>() + j["breakdown"]["exposed_comm_s"].get<double>() +
                     j["breakdown"]["bubble_s"].get<double>();
  CHECK(sum == doctest::Approx(j["step_time_s"].get<double>()).epsilon(1e-6));

  const auto t = nlohmann::json::parse(read_text(trace));
  std::set<long long> pids;
  std::size_t complete = 0;
  for (const auto& e : t["traceEvents"]) {
    if (e["ph"] == "X") {
      ++complete;
      pids.insert(e["pid"].get<long long>());
      CHECK(e["dur"].get<double>() >= 0);
    }
  }
  CHECK(complete > 1000);
  CHECK(pids.size() == j["simulation"]["simulated_ranks"].get<std::size_t>());
  CHECK(read_text(csv).rfind("rank,stream,phase,name,label,layer,micro_batch,chunk,start_ns,duration_ns,flops,bytes\n", 0) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a pipelined layout from --layout gives one trace process per stage") {
  const auto dir = fresh_dir("ecsim_simulate_cli_pp");
  const auto trace = dir / "t.json";
  const CliResult r = run_ecsim("simulate --layout pp=2,vpp=1,dp=256,tp=2,ep=64,mbs=8 --trace " + trace.string());
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  std::set<long long> pids;
  const auto doc = nlohmann::json::parse(read_text(trace));
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "X") pids.insert(e["pid"].get<long long>());
  }
  CHECK(pids.size() == 2);
  CHECK(pids.count(0) == 1);
  CHECK(pids.count(512) == 1);  // stage 1 starts at rank dp x tp = 512
  std::filesystem::remove_all(dir);
}

TEST_CASE("impossible layouts exit 2 with the constraint, and write no output") {
  const auto dir = fresh_dir("ecsim_simulate_cli_bad");
  const auto json = dir / "r.json";
  for (const auto& bad : std::initializer_list<std::pair<const char*, const char*>>{
           {"ep=48", "--layout: ep: 48 does not divide 64 experts"},
           {"dp=7", "--layout: dp: dp x tp x pp"},
           {"mbs=4,tp=1,pp=1,vpp=1,dp=1024", "does not fill whole expert-choice routing groups"},
           {"zero=9", "zero must be 0, 1, 2 or 3"},
           {"banana", "is not key=value"},
           {"dp=512,tp=1,dp=256", "--layout: dp is given twice"}}) {
    const std::string flag = bad.first;
    const std::string phrase = bad.second;
    CAPTURE(flag);
    const CliResult r = run_ecsim("simulate --layout " + flag + " --json " + json.string());
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(phrase) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(json));
  }
  CHECK(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}
