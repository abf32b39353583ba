// CUDA's execution model on the CPU, for running a kernel file's own device code unchanged under
// checks (README.md): each CUDA thread of a block is a fiber, blocks run one after another, and
// threadIdx, __syncthreads and the warp shuffles are calls into the emulator (cuda_emulation.cpp).
// A file that compiles a .cu as C++ includes this header first, before any CUDA header, as nvcc
// pre-includes its own built-ins (attention_emulated.cpp); kernels/launch.cuh routes launches here.
//
// What this is not: the hardware's arithmetic (the mma products are summed in fp64), its memory
// model beyond barriers (no __syncwarp, no atomics, no global-memory races between blocks) or
// its speed. The CUDA headers supply the types (dim3, __nv_bfloat16 and its host-side
// conversions); no CUDA library is linked.
#pragma once

#ifndef ECSIM_CUDA_EMULATION
#error "cuda_emulation.hpp is for builds with ECSIM_CUDA_EMULATION (tests/emulation/CMakeLists.txt)"
#endif
#ifdef __HOST_DEFINES_H__
#error "include emulation/cuda_emulation.hpp before any CUDA header: it defines CUDA's keywords first"
#endif

// Execution-space keywords mean nothing on the CPU. Blocks run one at a time, all on the launching
// OS thread, so a static thread_local is the running block's copy of a __shared__ variable, shared
// by its threads. Thread-local, because that puts every one in the program's thread-local block,
// which the checker watches as it watches dynamic shared memory (shared_memory_checker.hpp); GCC 12
// ignores a section attribute on a template's static. An `extern __shared__` array does not
// compile here: kernels reach dynamic shared memory through launch.cuh's dynamic_shared_memory().
// The CUDA headers keep definitions made before them (crt/host_defines.h).
#define __global__
#define __device__
#define __shared__ static thread_local
#define __launch_bounds__(...)

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <cmath>  // CUDA's device math (fmaxf, exp2f, logf) is the C library's on the CPU
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

#include "emulation/emulation_error.hpp"

namespace ecsim::emulation {

// The running thread's built-in variables.
uint3 thread_index();
uint3 block_index();
dim3 block_dim();
dim3 grid_dim();

void sync_threads();
int sync_threads_count(int predicate);  // __syncthreads_count: the threads whose predicate is true

enum class ShuffleMode { index, up, down, exclusive_or };
std::uint32_t shuffle(ShuffleMode mode, unsigned mask, std::uint32_t value, int operand, int width);

template <class T>
T shuffle_value(ShuffleMode mode, unsigned mask, T value, int operand, int width) {
  static_assert(sizeof(T) == 4 && std::is_trivially_copyable_v<T>, "the emulation shuffles 32-bit values only");
  return std::bit_cast<T>(shuffle(mode, mask, std::bit_cast<std::uint32_t>(value), operand, width));
}

// The running block's dynamic shared memory (the launch's shared_bytes, 128-byte aligned).
unsigned char* dynamic_shared_memory();

// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes).
void allow_dynamic_shared(std::uintptr_t kernel, int bytes);

// Runs body(call) as every thread of every block of the grid; throws EmulationError on the first
// failed check, naming the block.
using ThreadBody = void (*)(const void* call);
void run_grid(std::uintptr_t kernel, dim3 grid, dim3 block, std::size_t shared_bytes, ThreadBody body,
              const void* call);

// kernel<<<grid, block, shared_bytes>>>(args...), run to completion before it returns. The
// arguments convert to the kernel's parameter types as at a call, and each thread gets its own copy.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes, Args... args) {
  struct Call {
    void (*kernel)(Params...);
    std::tuple<Params...> params;
  };
  const Call call{kernel, std::tuple<Params...>(args...)};
  run_grid(
      reinterpret_cast<std::uintptr_t>(kernel), grid, block, shared_bytes,
      [](const void* p) {
        const Call& c = *static_cast<const Call*>(p);
        std::apply(c.kernel, c.params);
      },
      &call);
}

}  // namespace ecsim::emulation

#define threadIdx (::ecsim::emulation::thread_index())
#define blockIdx (::ecsim::emulation::block_index())
#define blockDim (::ecsim::emulation::block_dim())
#define gridDim (::ecsim::emulation::grid_dim())

constexpr int warpSize = 32;

inline void __syncthreads() { ::ecsim::emulation::sync_threads(); }
inline int __syncthreads_count(int predicate) { return ::ecsim::emulation::sync_threads_count(predicate); }

template <class T>
T __shfl_sync(unsigned mask, T value, int source_lane, int width = warpSize) {
  return ::ecsim::emulation::shuffle_value(::ecsim::emulation::ShuffleMode::index, mask, value, source_lane, width);
}

template <class T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  return ::ecsim::emulation::shuffle_value(::ecsim::emulation::ShuffleMode::up, mask, value, static_cast<int>(delta),
                                           width);
}

template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  return ::ecsim::emulation::shuffle_value(::ecsim::emulation::ShuffleMode::down, mask, value, static_cast<int>(delta),
                                           width);
}

template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
  return ::ecsim::emulation::shuffle_value(::ecsim::emulation::ShuffleMode::exclusive_or, mask, value, lane_mask,
                                           width);
}

// Warp votes and sm_80's warp reductions (redux.sync), made of the emulated shuffles above, so the
// same rule holds: the whole warp, every lane with the same mask.
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  const uint3 t = threadIdx;
  const unsigned lane = (t.x + blockDim.x * (t.y + blockDim.y * t.z)) % warpSize;
  unsigned votes = predicate ? 1u << lane : 0u;
  for (int offset = 1; offset < warpSize; offset *= 2) votes |= __shfl_xor_sync(mask, votes, offset);
  return votes;
}

inline int __reduce_add_sync(unsigned mask, int value) {
  for (int offset = 1; offset < warpSize; offset *= 2) value += __shfl_xor_sync(mask, value, offset);
  return value;
}

inline int __popc(unsigned x) { return std::popcount(x); }

// The bit reinterpretations of CUDA's device math (CUDA Math API, "Type Casting Intrinsics").
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }

// CUDA's rsqrtf, 1/sqrt(x) (CUDA Math API: within 2 ulps on the GPU). Here in fp32, sqrt and the
// division each rounding once: within 1.5 ulps of the exact value.
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

// Device code's integer min and max (CUDA declares them for device code only).
using std::max;
using std::min;
