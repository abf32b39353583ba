// Bad input, as a user would give it: each file under tests/bad_inputs/ goes through the real
// `ecsim model` binary, which must exit 2, name the file and the JSON path, and write nothing.
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct BadCase {
  const char* file;     // under tests/bad_inputs/
  const char* where;    // file and JSON path the message must name
  const char* what;     // a phrase the message must hold
};

// Each case: the input, the place it must name, and why it is wrong.
constexpr std::array<BadCase, 30> kCases{{
    {"unknown_key.json", "unknown_key.json: /hiden", "unknown key"},
    {"wrong_type.json", "wrong_type.json: /hidden", "must be a whole number"},
    {"missing_key.json", "missing_key.json: /", "missing required key 'layers'"},
    {"negative_capacity.json", "negative_capacity.json: /moe/routing/capacity_factor", "must be > 0, got -1"},
    {"kv_heads_not_dividing.json", "kv_heads_not_dividing.json: /attention/kv_heads", "does not divide heads"},
    {"mask_ratio_out_of_range.json", "mask_ratio_out_of_range.json: /dit/mask_ratio", "must be in [0, 0.95]"},
    {"patch_not_dividing.json", "patch_not_dividing.json: /dit/patch", "does not divide latent_size"},
    {"unknown_routing.json", "unknown_routing.json: /moe/routing/kind", "must be one of"},
    {"zero_capacity.json", "zero_capacity.json: /moe/routing/group_tokens", "at least one token"},
    {"bare_number_bandwidth.json", "bare_number_bandwidth.json: /cluster/nvlink/bandwidth", "bare number"},
    {"unknown_unit.json", "unknown_unit.json: /cluster/network/nic_bandwidth", "unknown bandwidth unit 'Gbs'"},
    {"unknown_gpu.json", "unknown_gpu.json: /cluster/gpu", "unknown GPU 'H900'"},
    {"bad_zero_stage.json", "bad_zero_stage.json: /layout/zero", "must be in [0, 3]"},
    {"bad_run_mode.json", "bad_run_mode.json: /run/mode", "must be one of \"train\", \"infer\""},
    {"missing_reference.json", "missing_reference.json: /model", "cannot open file"},
    {"reference_cycle_a.json", "reference_cycle_b.json: /", "reference cycle"},
    {"error_in_referenced_file.json", "wrong_type.json: /hidden", "must be a whole number"},
    {"not_json.json", "not_json.json: /", "not valid JSON"},
    {"negative_duration.json", "negative_duration.json: /cluster/nvlink/latency", "must not be negative"},
    {"fractional_layers.json", "fractional_layers.json: /layers", "must be a whole number, got 27.5"},
    {"partial_node.json", "partial_node.json: /cluster/gpus", "do not fill whole nodes"},
    {"does_not_exist.json", "does_not_exist.json", "does not exist"},
    {"number_out_of_range.json", "number_out_of_range.json: /", "not usable JSON"},  // found by the fuzzer
    {"cluster_given_to_model.json", "cluster_given_to_model.json: /", "neither a scenario (no \"model\" key) nor a model"},
    {"routing_stats_unknown_distribution.json", "routing_stats_unknown_distribution.json: /run/routing_stats/distribution",
     "must be one of \"uniform\", \"zipf\", \"dirichlet\", \"histogram\""},
    {"routing_stats_misplaced_exponent.json", "routing_stats_misplaced_exponent.json: /run/routing_stats/exponent",
     "exponent is for distribution \"zipf\""},
    {"routing_stats_bad_concentration.json", "routing_stats_bad_concentration.json: /run/routing_stats/concentration",
     "must be in [0.01"},
    {"routing_stats_zero_samples.json", "routing_stats_zero_samples.json: /run/routing_stats/samples", "must be in [1, 100000]"},
    {"routing_stats_histogram_short_row.json", "routing_histogram_short_row.json: /loads/1", "has 3 counts for 8 experts"},
    {"routing_stats_histogram_experts.json", "routing_histogram_16_experts.json: /experts",
     "the histogram has 16 experts, but the model"},
}};

}  // namespace

TEST_CASE("bad inputs exit 2, name the file and JSON path, and write no output") {
  const std::filesystem::path dir = std::filesystem::path(ECSIM_SOURCE_DIR) / "tests" / "bad_inputs";
  const std::filesystem::path out_dir = std::filesystem::temp_directory_path() / "ecsim_bad_input_test";
  std::filesystem::create_directories(out_dir);
  for (const auto& c : kCases) {
    const std::string name = c.file;
    CAPTURE(name);
    const auto out = out_dir / (std::string(c.file) + ".out.json");
    std::filesystem::remove(out);
    const CliResult r = run_ecsim("model '" + (dir / c.file).string() + "' --json '" +
                                    out.string() + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.where) != std::string::npos);
    CHECK(r.output.find(c.what) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
  // The directory holds no leftover temporary files either.
  CHECK(std::filesystem::is_empty(out_dir));
  std::filesystem::remove_all(out_dir);
}

TEST_CASE("unknown flags and missing arguments exit 2") {
    CHECK(run_ecsim("model").exit_code == 2);
  CHECK(run_ecsim("model x.json --no-such-flag").exit_code == 2);
  CHECK(run_ecsim("no-such-command").exit_code == 2);
  CHECK(run_ecsim("--help").exit_code == 0);
}

TEST_CASE("an output path in a missing folder, or a folder, is refused before any work (exit 2)") {
  // Quoted for the shell (appended piecewise: GCC 12's -Wrestrict misfires on "'" + s + "'").
  const auto quoted = [](const std::filesystem::path& p) {
    std::string q(1, '\'');
    q.append(p.string());
    q.push_back('\'');
    return q;
  };
  const std::filesystem::path src = ECSIM_SOURCE_DIR;
  const std::string scenario = quoted(src / "scenarios" / "ecdit-xxl-32e-train.json");
  const std::string plan_json = quoted(src / "reports" / "examples" / "plan.json");
  const std::string missing = quoted(std::filesystem::temp_directory_path() / "ecsim_no_such_folder" / "out");
  const std::string folder = quoted(std::filesystem::temp_directory_path());
  struct Case {
    std::string args, option;
  };
  const Case cases[] = {
      {"model " + scenario + " --json " + missing, "--json"},
      {"simulate " + scenario + " --json " + missing, "--json"},
      {"simulate " + scenario + " --csv " + missing, "--csv"},
      {"simulate " + scenario + " --trace " + folder, "--trace"},
      {"plan " + scenario + " --gpus 256 --json " + missing, "--json"},
      {"compare-routing " + scenario + " --json " + missing, "--json"},
      {"report " + plan_json + " -o " + missing, "-o"},
      {"report " + plan_json + " -o " + quoted(std::filesystem::temp_directory_path() / "ecsim_unwritten.html") +
           " --md " + missing,
       "--md"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const CliResult r = run_ecsim(c.args);
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("ecsim: error: " + c.option + ": ") != std::string::npos);
    CHECK(r.output.find("step time") == std::string::npos);  // nothing was simulated
  }
}
