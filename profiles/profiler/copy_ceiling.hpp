// The device's copy ceiling: a device-to-device copy far past any L2, counting the bytes read and
// written. The profile records it (ceilings.hpp: hbm_bytes_per_s), and the kernel
// benchmarks set their bandwidth-bound stages beside it (bench/ec_routing_bench.cpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/timing.hpp"

namespace ecsim::profiler {

struct CopyCeiling {
  Timing timing;
  double bytes = 0;        // read + written by one copy
  double bytes_per_s = 0;  // at the median
};

// A copy of `copy_bytes` (at most 1/16 of the device's memory) each way, inputs rotated past 2x L2.
CopyCeiling measure_copy_ceiling(cudaStream_t stream, const DeviceInfo& device, OperandPools& pools, EventTimer& timer,
                                 const TimingMethod& method, std::size_t copy_bytes);

}  // namespace ecsim::profiler
