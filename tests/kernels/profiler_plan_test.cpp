// The measured profiler's plan and statistics (profiles/profiler/) against the simulator's
// contract; needs no GPU. Every shape the profiler would time must be a key the simulator looks up:
// the full plan's keys are compared with ecdit_kernel_calls (simulator/cost/analytic_profile.hpp),
// the calls the analytic profiles are made of; every matrix call must keep the alignment its
// cuBLAS launcher requires (n and k multiples of 8), or the profiler would skip it.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "cost/analytic_profile.hpp"
#include "hardware/gpu.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/kernel_runs.hpp"
#include "profiler/sweeps.hpp"
#include "profiler/timing.hpp"

using namespace ecsim;
using namespace ecsim::profiler;

namespace {

std::string key_of(const KernelCall& c) {
  std::string key = c.op + "|" + c.dtype;
  for (const auto& [name, v] : c.shape) key += "|" + name + "=" + std::to_string(v);
  return key;
}

const std::filesystem::path kModels = std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "models";

bool aligned(std::int64_t v) { return v % 8 == 0; }

}  // namespace

TEST_CASE("the profiler plans only shapes the simulator prices, with launchable matrix shapes") {
  std::set<std::string> simulator_keys;
  for (const KernelCall& c : ecdit_kernel_calls(load_ecdit_family(kModels))) simulator_keys.insert(key_of(c));
  const GpuSpec gpu = *find_gpu("H100-SXM");
  const FamilyFilter all = [](const std::string&) { return true; };
  for (const SweepSize size : {SweepSize::kFull, SweepSize::kQuick}) {
    CAPTURE(size == SweepSize::kFull ? "full" : "quick");
    const SweepPlan plan = plan_sweep(kModels, size, gpu, has_kernel, all);
    std::size_t unknown = 0, misaligned = 0;
    std::string first_unknown, first_misaligned;
    std::map<std::string, std::int64_t> families;
    for (const PlannedCall& c : plan.calls) {
      ++families[c.call.op];
      if (!simulator_keys.count(key_of(c.call)) && unknown++ == 0) first_unknown = key_of(c.call);
      if (c.family == "gemm" || c.family == "batched_gemm" || c.family == "grouped_gemm") {
        const bool ok = aligned(c.op_shape.at("n")) && aligned(c.op_shape.at("k"));
        if (!ok && misaligned++ == 0) first_misaligned = key_of(c.call);
      }
    }
    CHECK_MESSAGE(unknown == 0, unknown << " planned shapes are no simulator key, e.g. " << first_unknown);
    CHECK_MESSAGE(misaligned == 0, misaligned << " matrix shapes break the launchers' alignment, e.g. " << first_misaligned);
    // Every family a kernel in kernels/ implements is swept, forward and backward.
    for (const char* family : {"gemm", "batched_gemm", "grouped_gemm", "grouped_gemm_wgrad", "gelu", "gelu_bwd",
                               "gate_residual", "gate_residual_bwd", "adaln_layernorm", "adaln_layernorm_bwd",
                               "flow_loss", "flow_loss_bwd", "adamw", "ec_route", "ec_route_bwd", "permute",
                               "permute_bwd", "unpermute", "unpermute_bwd"}) {
      CHECK_MESSAGE(families[family] > 0, family << " is not swept");
    }
    // Families without a kernel are counted, never planned.
    for (const auto& [family, n] : plan.without_kernel) {
      CHECK_FALSE(has_kernel(family));
      CHECK(families.count(family) == 0);
    }
  }
}

TEST_CASE("a grouped GEMM key is timed with both ragged-group methods, other keys once") {
  const GpuSpec gpu = *find_gpu("H100-SXM");
  const FamilyFilter grouped = [](const std::string& f) { return f == "grouped_gemm" || f == "grouped_gemm_wgrad"; };
  const SweepPlan plan = plan_sweep(kModels, SweepSize::kQuick, gpu, has_kernel, grouped);
  REQUIRE(!plan.calls.empty());
  for (const PlannedCall& c : plan.calls) {
    CAPTURE(key_of(c.call));
    CHECK(variant_count(c) == (c.call.op == "grouped_gemm" ? 2 : 1));
  }
}

TEST_CASE("timing statistics and buffer rotation follow their closed forms") {
  // Linear between order statistics: q (n - 1) = 0.4 lands 40% of the way from 1 to 2.
  CHECK(percentile({1, 2, 3, 4, 5}, 0.5) == 3);
  CHECK(percentile({1, 2, 3, 4, 5}, 0.1) == doctest::Approx(1.4));
  CHECK(percentile({1, 2, 3, 4, 5}, 0.9) == doctest::Approx(4.6));
  const Timing t = summarize({50, 10, 40, 20, 30});
  CHECK(t.p50_ns == 30);
  CHECK(t.samples == 5);
  // Two uses of a set at least 2 x L2 apart: 10 MB per set over a 50 MB L2 needs 10 sets; a set
  // past 2 x L2 needs one; tiny sets are never more than the runs.
  constexpr std::size_t kMB = 1000000;
  CHECK(rotation_sets(10 * kMB, 50 * kMB, 103) == 10);
  CHECK(rotation_sets(11 * kMB, 50 * kMB, 103) == 10);
  CHECK(rotation_sets(200 * kMB, 50 * kMB, 103) == 1);
  CHECK(rotation_sets(1000, 50 * kMB, 103) == 103);
  // Operands are 256-byte aligned within a set.
  const std::vector<Operand> ops{{Fill::kUniformBf16, 100}, {Fill::kScratch, 300}, {Fill::kUniformBf16, 256}};
  CHECK(OperandPools::set_bytes(ops, Fill::kUniformBf16) == 512);
  CHECK(OperandPools::footprint(ops) == 1024);
}

TEST_CASE("a device name becomes a profile file name") {
  CHECK(device_slug("NVIDIA H100 80GB HBM3") == "h100-80gb-hbm3");
  CHECK(device_slug("NVIDIA H200") == "h200");
  CHECK(device_slug("  ") == "gpu");
}
