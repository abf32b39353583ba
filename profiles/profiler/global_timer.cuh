// The GPU's global nanosecond timer, for device code that waits out a span of wall time
// (timing.cu's hold_stream_kernel). Under nvcc the PTX special register %globaltimer; in the CPU
// emulation of the CUDA execution model (ECSIM_CUDA_EMULATION, tests/emulation/README.md) the
// host's steady clock, the clock the emulated device's events read. Like kernels/mma_sm80.cuh,
// the only part of the profiler's device code with two implementations.
#pragma once

#ifdef ECSIM_CUDA_EMULATION
#include <chrono>
#endif

namespace ecsim::profiler {

#ifdef ECSIM_CUDA_EMULATION

inline unsigned long long global_timer_ns() {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

#else

__device__ inline unsigned long long global_timer_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

#endif

}  // namespace ecsim::profiler
