// The device's copy ceiling (copy_ceiling.hpp).
#include "profiler/copy_ceiling.hpp"

#include <algorithm>
#include <vector>

#include "core/units.hpp"
#include "cuda_check.hpp"

namespace ecsim::profiler {

CopyCeiling measure_copy_ceiling(cudaStream_t stream, const DeviceInfo& device, OperandPools& pools, EventTimer& timer,
                                 const TimingMethod& method, std::size_t copy_bytes) {
  CopyCeiling c;
  const std::size_t copy = std::min(copy_bytes, device.hbm_bytes / 16);
  const std::vector<Operand> operands{{Fill::kUniformBf16, copy}, {Fill::kScratch, copy}};
  const int sets = rotation_sets(OperandPools::footprint(operands), device.l2_bytes, method.warmup + method.max_samples);
  pools.reserve(operands, sets, stream);
  c.timing = timer.time(sets, method, [&](int set) {
    const OperandSet o = pools.set(operands, set);
    CUDA_CHECK(cudaMemcpyAsync(o.pointers[1], o.pointers[0], copy, cudaMemcpyDeviceToDevice, stream));
  });
  c.bytes = 2.0 * static_cast<double>(copy);
  c.bytes_per_s = rate(Bytes{c.bytes}, Seconds{c.timing.p50_ns / kNanosPerSecond}).value;
  return c;
}

}  // namespace ecsim::profiler
