// Bad input, as a user would give it: each file under tests/bad_inputs/ goes through the real
// `ecsim model` binary, which must exit 2, name the file and the JSON path, and write nothing.
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

struct BadCase {
  const char* file;     // under tests/bad_inputs/
  const char* where;    // file and JSON path the message must name
  const char* what;     // a phrase the message must hold
};

// Each case: the input, the place it must name, and why it is wrong.
constexpr std::array<BadCase, 31> kCases{{
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
    {"missing_reference.json", "missing_reference.json: /model", "does not exist"},
    {"reference_cycle_a.json", "reference_cycle_b.json: /", "reference cycle"},
    {"error_in_referenced_file.json", "wrong_type.json: /hidden", "must be a whole number"},
    {"not_json.json", "not_json.json: /", "not valid JSON"},
    {"negative_duration.json", "negative_duration.json: /cluster/nvlink/latency", "must not be negative"},
    {"fractional_layers.json", "fractional_layers.json: /layers", "must be a whole number, got 27.5"},
    {"partial_node.json", "partial_node.json: /cluster/gpus", "do not fill whole nodes"},
    {"does_not_exist.json", "does_not_exist.json", "does not exist"},
    {"number_out_of_range.json", "number_out_of_range.json: /", "not usable JSON"},  // found by the fuzzer
    {"duplicate_key.json", "duplicate_key.json: /attention/heads", "the key 'heads' is given twice in one object"},
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

// A path quoted for the shell (appended piecewise: GCC 12's -Wrestrict misfires on "'" + s + "'").
std::string shell_quoted(const std::filesystem::path& p) {
  std::string q(1, '\'');
  q.append(p.string());
  q.push_back('\'');
  return q;
}

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
  const auto quoted = shell_quoted;
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

TEST_CASE("an output that would overwrite an input, or another output, is refused and the input kept (exit 2)") {
  const std::filesystem::path src = ECSIM_SOURCE_DIR;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "ecsim_overwrite_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "models");
  for (const char* model : {"ecdit-xl-8e.json", "ecdit-xl-dense.json"}) {  // the second is the first's base
    std::filesystem::copy_file(src / "scenarios" / "models" / model, dir / "models" / model);
  }
  std::filesystem::copy_file(src / "scenarios" / "clusters" / "dgx-h100.json", dir / "cluster.json");
  const std::string scenario_text =
      R"({"name": "overwrite test", "model": "models/ecdit-xl-8e.json", "cluster": "cluster.json",)"
      R"( "layout": {"dp": 8, "ep": 8, "mbs": 8}, "run": {"global_batch": 64}})";
  { std::ofstream(dir / "s.json") << scenario_text; }
  const auto text_of = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string model_text = text_of(dir / "models" / "ecdit-xl-8e.json");
  const std::string base_text = text_of(dir / "models" / "ecdit-xl-dense.json");
  const auto in_dir = [&](const char* name) { return shell_quoted(dir / name); };
  REQUIRE(run_ecsim("simulate " + in_dir("s.json")).exit_code == 0);
  struct Case {
    std::string args, says;
  };
  const Case cases[] = {
      {"simulate " + in_dir("s.json") + " --json " + in_dir("s.json"), "--json: '"},
      {"simulate " + in_dir("s.json") + " --json " + in_dir("out.json") + " --trace " + in_dir("./out.json"),
       "is also the --json file"},
      // A file the scenario references, found as it is read (after the simulation): nothing written.
      {"simulate " + in_dir("s.json") + " --json " + in_dir("models/ecdit-xl-8e.json"), "is an input of this run"},
      {"simulate " + in_dir("s.json") + " --csv " + in_dir("models/ecdit-xl-dense.json"), "is an input of this run"},
      {"model " + in_dir("models/ecdit-xl-8e.json") + " --json " + in_dir("models/ecdit-xl-8e.json"),
       "is an input of this run"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const CliResult r = run_ecsim(c.args);
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.says) != std::string::npos);
    CHECK(text_of(dir / "s.json") == scenario_text);
    CHECK(text_of(dir / "models" / "ecdit-xl-8e.json") == model_text);
    CHECK(text_of(dir / "models" / "ecdit-xl-dense.json") == base_text);
    CHECK_FALSE(std::filesystem::exists(dir / "out.json"));
  }
  std::filesystem::remove_all(dir);
}
