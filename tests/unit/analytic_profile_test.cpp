// The committed analytic profiles (profiles/*-analytic.json) against what ecsim-analytic-profile
// writes from this tree: the same keys (the full sweep of simulator/cost/kernel_sweep.cpp over the
// EC-DiT family) and the analytic model's present times and ceilings. A change to the sweep, to
// the models' operators or to the analytic model fails here until the files are regenerated,
// instead of leaving the simulator to price from stale entries.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cost/analytic_model.hpp"
#include "cost/analytic_profile.hpp"
#include "cost/compute_cost.hpp"

using namespace ecsim;

namespace {

const std::filesystem::path kSource{ECSIM_SOURCE_DIR};

}  // namespace

TEST_CASE("analytic profiles: each committed file is what ecsim-analytic-profile writes from this tree") {
  const std::vector<KernelCall> calls = ecdit_kernel_calls(load_ecdit_family(kSource / "scenarios" / "models"),
                                                           load_validation_campaign(kSource / "scenarios" / "validation"));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kSource / "profiles")) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 14 && name.ends_with("-analytic.json")) files.push_back(entry.path());
  }
  CHECK(files.size() == 4);
  for (const std::filesystem::path& file : files) {
    CAPTURE(file);
    INFO("regenerate with: build/bin/ecsim-analytic-profile (profiles/README.md)");
    const Profile p = load_profile(file);
    CHECK(p.source == "analytic");
    const std::optional<GpuSpec> gpu = find_gpu(p.device.name);
    REQUIRE(gpu);
    CHECK(p.matmul_ceiling.value == gpu->matmul_ceiling.value);
    CHECK(p.hbm_ceiling.value == gpu->hbm_ceiling.value);
    std::map<std::string, double> stored;
    for (const ProfileEntry& e : p.ops) stored[kernel_key(e.op, e.dtype, e.shape)] = e.p50_ns;
    CHECK(stored.size() == calls.size());
    std::size_t missing = 0, stale = 0;
    std::string first_missing, first_stale;
    for (const KernelCall& c : calls) {
      const std::string key = kernel_key(c);
      const auto it = stored.find(key);
      if (it == stored.end()) {
        if (missing++ == 0) first_missing = key;
        continue;
      }
      const auto now = static_cast<double>(analytic_kernel_time(*gpu, c).value);
      if (it->second != now && stale++ == 0) {
        first_stale = key + ": " + std::to_string(it->second) + " ns in the file, " + std::to_string(now) + " now";
      }
    }
    CHECK_MESSAGE(missing == 0, missing << " swept shapes are not in the file, e.g. " << first_missing);
    CHECK_MESSAGE(stale == 0, stale << " entries differ from the analytic model's time, e.g. " << first_stale);
  }
}
