// The sm_80 instructions of kernels/mma_sm80.cuh, executed by the CPU emulation (README.md) with
// the semantics the PTX ISA gives them: cp.async copies land at the cp.async.wait_group that covers
// them (the latest moment the ISA allows), ldmatrix and mma.sync wait for all 32 lanes of the warp
// and then exchange fragments as the ISA's tables lay them out (mma_sm80_emulated.cpp). Every
// shared-memory address is checked: bounds, alignment, races (shared_memory_checker.hpp).
#pragma once

#include <cstdint>

#include "emulation/cuda_emulation.hpp"

namespace ecsim {

namespace emulation {

void cp_async_cg_16(void* shared, const void* global, int src_bytes);
void cp_async_commit_group();
void cp_async_wait_group(int pending);
void ldmatrix_x4(std::uint32_t (&r)[4], const void* row, bool transposed);
void mma_m16n8k16_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1);

}  // namespace emulation

// The same signatures as the PTX wrappers; inlined, so the emulator's reports name the kernel's code.
__forceinline__ void cp_async_cg_16(void* shared, const void* global, int src_bytes) {
  emulation::cp_async_cg_16(shared, global, src_bytes);
}

__forceinline__ void cp_async_commit_group() { emulation::cp_async_commit_group(); }

template <int kPending>
__forceinline__ void cp_async_wait_group() {
  emulation::cp_async_wait_group(kPending);
}

__forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* row) { emulation::ldmatrix_x4(r, row, false); }

__forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* row) { emulation::ldmatrix_x4(r, row, true); }

__forceinline__ void mma_m16n8k16_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
  emulation::mma_m16n8k16_bf16(c, a, b0, b1);
}

}  // namespace ecsim
