// The two ceilings a profile records (ceilings.bf16_matmul_flops_per_s, hbm_bytes_per_s), which
// the simulator's roofline uses outside the measured shapes: a bf16 8192^3 GEMM through the
// same launcher as the model's GEMMs, and a large device-to-device copy, counting the bytes read
// and written. Also the SM clock while the GEMMs run.
#pragma once

#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/kernel_runs.hpp"
#include "profiler/timing.hpp"

namespace ecsim::profiler {

struct Ceilings {
  Timing matmul;
  double matmul_flops_per_s = 0;
  Timing copy;
  double copy_bytes_per_s = 0;
  double copy_bytes = 0;              // bytes read + written by one copy
  int sm_clock_under_load_mhz = 0;    // NVML, sampled while GEMMs run; 0 without NVML
};

Ceilings measure_ceilings(const RunContext& ctx, const DeviceInfo& device, OperandPools& pools, EventTimer& timer,
                          const TimingMethod& method);

}  // namespace ecsim::profiler
