// The profiler's kernel runs (profiles/profiler/kernel_runs.cpp) on the emulated device: what the
// timed kernels read and write, which profile_emulated_test.sh's end-to-end run does not look at.
// A run that updates its operands in place (AdamW) times them again and again; its values must
// stay those of training (finite, second moments not negative), or the timed kernel takes paths
// training never takes (NaN through IEEE sqrt and division: their slow paths).
#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cost/kernel_sweep.hpp"  // runner_optimizer_recipes
#include "cuda_check.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/kernel_runs.hpp"

namespace ecsim::emulation_test {
namespace {

using profiler::Fill;
using profiler::KernelRun;
using profiler::OperandPools;
using profiler::OperandSet;
using profiler::PlannedCall;

// Operand i of a set as fp32 values, read by its fill (bf16 or fp32).
std::vector<float> download_operand(const KernelRun& run, const OperandSet& set, std::size_t i) {
  const bool fp32 = run.operands[i].fill == Fill::kUniformFp32;
  const std::size_t n = run.operands[i].bytes / (fp32 ? sizeof(float) : sizeof(__nv_bfloat16));
  std::vector<float> out(n);
  CUDA_CHECK(cudaDeviceSynchronize());
  if (fp32) {
    CUDA_CHECK(cudaMemcpy(out.data(), set.pointers[i], n * sizeof(float), cudaMemcpyDeviceToHost));
    return out;
  }
  std::vector<__nv_bfloat16> bf16(n);
  CUDA_CHECK(cudaMemcpy(bf16.data(), set.pointers[i], n * sizeof(__nv_bfloat16), cudaMemcpyDeviceToHost));
  for (std::size_t j = 0; j < n; ++j) out[j] = __bfloat162float(bf16[j]);
  return out;
}

TEST_CASE("the profiler's AdamW runs keep the state they update as training's: finite, second moments not negative") {
  constexpr std::int64_t kParams = 4096;
  constexpr int kRuns = 3;
  const profiler::RunContext ctx;
  for (const OptimizerSpec& recipe : runner_optimizer_recipes()) {
    PlannedCall c;
    c.call = optimizer_kernel(kParams, recipe);
    c.role = profiler::KernelRole::kForward;
    c.family = c.call.op;
    c.op_shape = c.call.shape;
    CAPTURE(c.call.dtype);
    const KernelRun run = profiler::make_run(c, 0, ctx);
    REQUIRE(run.operands.size() >= 4);  // param, gradient, m, v (and the bf16 copy with fp32 masters)
    OperandPools pools(0x5EED);
    pools.reserve(run.operands, 1, nullptr);
    const OperandSet set = pools.set(run.operands, 0);
    for (int r = 0; r < kRuns; ++r) run.launch(set, nullptr);
    const std::vector<float> param = download_operand(run, set, 0);
    const std::vector<float> m = download_operand(run, set, 2);
    const std::vector<float> v = download_operand(run, set, 3);
    REQUIRE(param.size() == static_cast<std::size_t>(kParams));
    std::size_t bad = 0, negative_v = 0;
    for (std::size_t i = 0; i < param.size(); ++i) {
      if (!std::isfinite(param[i]) || !std::isfinite(m[i]) || !std::isfinite(v[i])) ++bad;
      if (v[i] < 0) ++negative_v;
    }
    CHECK(bad == 0);
    CHECK(negative_v == 0);
  }
}

}  // namespace
}  // namespace ecsim::emulation_test
