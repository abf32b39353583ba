// The profile's ceilings (ceilings.hpp).
#include "profiler/ceilings.hpp"

#include <cuda_bf16.h>

#include <chrono>
#include <thread>
#include <vector>

#include "core/units.hpp"
#include "cuda_check.hpp"
#include "gemm.cuh"

namespace ecsim::profiler {
namespace {

constexpr int kClockProbeGemms = 30;        // about 40 ms of 8192^3 GEMMs on an H100 ...
constexpr auto kClockProbeDelay = std::chrono::milliseconds(15);  // ... read the clock part way in

}  // namespace

Ceilings measure_ceilings(const RunContext& ctx, const DeviceInfo& device, OperandPools& pools, EventTimer& timer,
                          const TimingMethod& method, const CeilingSizes& sizes) {
  Ceilings c;
  const std::int64_t side = sizes.gemm;
  c.gemm = side;
  const GemmDims d{side, side, side};
  const std::size_t matrix = static_cast<std::size_t>(side * side) * sizeof(__nv_bfloat16);
  const std::vector<Operand> gemm_operands{{Fill::kUniformBf16, matrix}, {Fill::kUniformBf16, matrix},
                                          {Fill::kScratch, matrix}};
  const int runs = method.warmup + method.max_samples;
  const int sets = rotation_sets(OperandPools::footprint(gemm_operands), device.l2_bytes, runs);
  pools.reserve(gemm_operands, sets, ctx.stream);
  auto run_gemm = [&](int set) {
    const OperandSet o = pools.set(gemm_operands, set);
    gemm(ctx.cublas, ctx.stream, d, o.at<__nv_bfloat16>(0), o.at<__nv_bfloat16>(1), o.at<__nv_bfloat16>(2));
  };
  c.matmul = timer.time(sets, method, run_gemm);
  const auto n = static_cast<double>(side);
  const Flops flops{2.0 * n * n * n};
  c.matmul_flops_per_s = rate(flops, Seconds{c.matmul.p50_ns / kNanosPerSecond}).value;

  // The clock while the GEMMs keep the SMs busy: enqueue a batch, read NVML part way through.
  for (int i = 0; i < kClockProbeGemms; ++i) run_gemm(i % sets);
  std::this_thread::sleep_for(kClockProbeDelay);
  c.sm_clock_under_load_mhz = current_sm_clock_mhz(device);
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));

  const CopyCeiling copy = measure_copy_ceiling(ctx.stream, device, pools, timer, method, sizes.copy_bytes);
  c.copy = copy.timing;
  c.copy_bytes = copy.bytes;
  c.copy_bytes_per_s = copy.bytes_per_s;
  return c;
}

}  // namespace ecsim::profiler
