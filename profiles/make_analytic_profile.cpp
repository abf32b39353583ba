// ecsim-analytic-profile: writes profiles/<gpu>-analytic.json, the analytic model's time for every
// kernel shape the EC-DiT family and its layouts produce (simulator/cost/analytic_profile.hpp).
// Run from the repository root:
//   build/bin/ecsim-analytic-profile                      (all four GPUs of the table)
//   build/bin/ecsim-analytic-profile --gpu H100-SXM --out-dir profiles
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/tool_main.hpp"
#include "core/atomic_file.hpp"
#include "core/errors.hpp"
#include "core/utc_time.hpp"
#include "cost/analytic_profile.hpp"
#include "ecsim_git_sha.hpp"

namespace {

std::string file_name(std::string gpu) {
  std::transform(gpu.begin(), gpu.end(), gpu.begin(), [](unsigned char c) { return std::tolower(c); });
  return gpu + "-analytic.json";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes analytic profiles (schema ecsim.profile/1) for the EC-DiT family's kernel shapes"};
  std::vector<std::string> gpus{"A100-SXM-80GB", "H100-SXM", "H200-SXM", "B200"};
  std::string out_dir = "profiles";
  std::string models_dir = "scenarios/models";
  app.add_option("--gpu", gpus, "GPU kinds from the hardware table")->capture_default_str();
  app.add_option("--out-dir", out_dir, "where <gpu>-analytic.json goes")->capture_default_str();
  app.add_option("--models", models_dir, "folder holding the EC-DiT model files")->capture_default_str();
  if (auto rc = ecsim::cli::parse_or_exit(app, argc, argv)) return *rc;
  const std::string command = ecsim::cli::command_line(argc, argv);
  return ecsim::cli::run_reporting_errors("ecsim-analytic-profile", [&] {
    const auto calls = ecsim::ecdit_kernel_calls(
        ecsim::load_ecdit_family(models_dir),
        ecsim::load_validation_campaign(ecsim::validation_dir_beside(models_dir)));
    for (const auto& name : gpus) {
      const auto gpu = ecsim::find_gpu(name);
      if (!gpu) throw ecsim::InputError("--gpu: unknown GPU '" + name + "'");
      ecsim::Profile p = ecsim::make_analytic_profile(*gpu, calls);
      p.created = ecsim::utc_now_iso8601();
      p.git_sha = ECSIM_GIT_SHA;
      p.command = command;
      const std::filesystem::path file = std::filesystem::path(out_dir) / file_name(name);
      const std::string text = ecsim::format_profile(p);
      ecsim::write_file_atomic(file, text);
      std::cout << file.string() << ": " << p.ops.size() << " kernel shapes, " << text.size() << " bytes\n";
    }
  });
}
