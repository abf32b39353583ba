// The two ceilings a profile records (ceilings.bf16_matmul_flops_per_s, hbm_bytes_per_s), which
// the simulator's roofline uses outside the measured shapes: a bf16 8192^3 GEMM through the
// same launcher as the model's GEMMs, and a large device-to-device copy, counting the bytes read
// and written. Also the SM clock while the GEMMs run.
#pragma once

#include "profiler/copy_ceiling.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/kernel_runs.hpp"
#include "profiler/timing.hpp"

namespace ecsim::profiler {

// What the ceilings run. The defaults are the method's; smaller sizes exist for a device too slow
// for them, the CPU emulation (tests/emulation/profile_emulated_test.sh), where the rates they
// give are no GPU's ceilings.
struct CeilingSizes {
  std::int64_t gemm = 8192;                          // the square bf16 GEMM's side
  std::size_t copy_bytes = std::size_t{1} << 30;     // each way, far past any L2; at most 1/16 of memory
};

struct Ceilings {
  Timing matmul;
  double matmul_flops_per_s = 0;
  Timing copy;
  double copy_bytes_per_s = 0;
  std::int64_t gemm = 0;              // the GEMM's side
  double copy_bytes = 0;              // bytes read + written by one copy
  int sm_clock_under_load_mhz = 0;    // NVML, sampled while GEMMs run; 0 without NVML
};

Ceilings measure_ceilings(const RunContext& ctx, const DeviceInfo& device, OperandPools& pools, EventTimer& timer,
                          const TimingMethod& method, const CeilingSizes& sizes);

}  // namespace ecsim::profiler
