// The GPU's global nanosecond timer, for device code that waits out a span of wall time
// (timing.cu's hold_stream_kernel and rest_kernel), and a thread's short nap. Under nvcc the PTX
// special register %globaltimer and __nanosleep; in the CPU emulation of the CUDA execution model
// (ECSIM_CUDA_EMULATION, tests/emulation/README.md) the host's steady clock, the clock the emulated
// device's events read, and a sleep of the host's thread. Like kernels/mma_sm80.cuh, the only part
// of the profiler's device code with two implementations.
#pragma once

#ifdef ECSIM_CUDA_EMULATION
#include <chrono>
#include <thread>
#endif

namespace ecsim::profiler {

#ifdef ECSIM_CUDA_EMULATION

inline unsigned long long global_timer_ns() {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

inline void nap() { std::this_thread::sleep_for(std::chrono::microseconds(1)); }

#else

__device__ inline unsigned long long global_timer_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// A thread's pause of about a microsecond, its warp's issue slots left to no one (sm_70 and later).
__device__ inline void nap() { __nanosleep(1000); }

#endif

}  // namespace ecsim::profiler
