// Kernel launches written once for nvcc and for the CPU emulation of the CUDA execution model
// (ECSIM_CUDA_EMULATION, tests/emulation/README.md): the opt-in to more than 48 KiB of dynamic
// shared memory, the launch with its error check, and the kernel's view of that memory.
//   CUDA_CHECK(allow_dynamic_shared(kernel, bytes));
//   CUDA_CHECK(launch_kernel(kernel, grid, block, shared_bytes, stream, args...));
//   unsigned char* shared = dynamic_shared_memory();  // inside the kernel
// Under nvcc each is the plain CUDA construct. Under the emulation the launch runs the grid on the
// CPU before it returns (the stream is ignored) and reports what it finds by throwing, so both
// return cudaSuccess there.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#ifdef ECSIM_CUDA_EMULATION
#include "emulation/cuda_emulation.hpp"
#endif

namespace ecsim {

#ifdef ECSIM_CUDA_EMULATION

template <class... Params>
cudaError_t allow_dynamic_shared(void (*kernel)(Params...), int bytes) {
  emulation::allow_dynamic_shared(reinterpret_cast<std::uintptr_t>(kernel), bytes);
  return cudaSuccess;
}

template <class... Params, class... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t,
                          Args... args) {
  emulation::launch(kernel, grid, block, shared_bytes, args...);
  return cudaSuccess;
}

inline unsigned char* dynamic_shared_memory() { return emulation::dynamic_shared_memory(); }

#else

// Lets `kernel` launch with up to `bytes` of dynamic shared memory (beyond 48 KiB needs this).
template <class... Params>
cudaError_t allow_dynamic_shared(void (*kernel)(Params...), int bytes) {
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}

// kernel<<<grid, block, shared_bytes, stream>>>(args...); returns the launch's error.
template <class... Params, class... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
                          cudaStream_t stream, Args... args) {
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
  return cudaGetLastError();
}

// The block's dynamic shared memory (the launch's shared_bytes), 16-byte aligned.
__device__ __forceinline__ unsigned char* dynamic_shared_memory() {
  extern __shared__ __align__(16) unsigned char shared[];
  return shared;
}

#endif

}  // namespace ecsim
