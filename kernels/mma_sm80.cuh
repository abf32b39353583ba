// Warp-level matrix and async-copy instructions of sm_80+, as inline PTX: cp.async (16 bytes
// global -> shared, in commit groups), ldmatrix (four 8x8 bf16 matrices from shared memory into a
// warp's registers) and mma.sync m16n8k16 (bf16 in, fp32 accumulate), each wrapped once, and the
// helpers the attention kernels build from them (attention.cu). Fragment layouts are the PTX ISA's
// ("Matrix Fragments for mma.m16n8k16", "Warp-level matrix load instruction: ldmatrix").
//
// The instructions are the only part with two implementations: under nvcc the PTX below; in the
// CPU emulation of the CUDA execution model (ECSIM_CUDA_EMULATION, tests/emulation/README.md) the
// same functions from tests/emulation/mma_sm80_emulated.hpp. The helpers after them, which decide
// which lane supplies which address, are compiled from this one source in both.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#ifdef ECSIM_CUDA_EMULATION
#include "emulation/mma_sm80_emulated.hpp"
#else
namespace ecsim {

__device__ __forceinline__ std::uint32_t shared_address(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// cp.async.cg: copies src_bytes (0 or 16) of the 16 at `global` to `shared` and zero-fills the rest,
// asynchronously: the bytes land by the cp.async.wait_group that covers the copy's commit group.
__device__ __forceinline__ void cp_async_cg_16(void* shared, const void* global, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared)), "l"(global),
               "r"(src_bytes)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit_group() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most `kPending` committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait_group() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// ldmatrix.x4: lane l supplies `row`, the address of row l % 8 of matrix l / 8 (16 bytes, 16-byte
// aligned); register i of lane l receives row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 of matrix
// i (the lower column in the low half). With .trans, column l / 4, rows 2 (l % 4) and 2 (l % 4) + 1.
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
}

__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
}

// mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32: c[16, 8] += a[16, 16] b[16, 8] (layouts at mma_16x8x16).
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                                  std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace ecsim
#endif

namespace ecsim {

// 16 bytes global -> shared without passing through registers; src_bytes 0 writes zeros.
__device__ __forceinline__ void copy_16_async(void* shared, const void* global, bool valid) {
  cp_async_cg_16(shared, global, valid ? 16 : 0);
}

__device__ __forceinline__ void commit_async_copies() { cp_async_commit_group(); }

// Waits until at most `kPending` committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void wait_async_copies() {
  cp_async_wait_group<kPending>();
}

// ldmatrix.x4 of the 16x16 bf16 block at `p` (its top-left element) in a row-major shared tile
// with `stride` elements per row. Lane l supplies the address of row l % 16, columns 8 (l / 16)
// onward, so register i holds the 8x8 matrix
//   0: rows 0-7, cols 0-7   1: rows 8-15, cols 0-7   2: rows 0-7, cols 8-15   3: rows 8-15, cols 8-15
// and lane l holds its row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 (the lower in the low half).
// With .trans, lane l holds column l / 4, rows 2 (l % 4) and 2 (l % 4) + 1 instead.
template <int kStride>
__device__ __forceinline__ void load_block_16x16(std::uint32_t (&r)[4], const __nv_bfloat16* p, int lane) {
  const __nv_bfloat16* row = p + (lane % 16) * kStride + (lane / 16) * 8;
  ldmatrix_x4(r, row);
}

template <int kStride>
__device__ __forceinline__ void load_block_16x16_transposed(std::uint32_t (&r)[4], const __nv_bfloat16* p, int lane) {
  const __nv_bfloat16* row = p + (lane % 16) * kStride + (lane / 16) * 8;
  ldmatrix_x4_trans(r, row);
}

// c[16, 8] += a[16, 16] b[16, 8], bf16 operands, fp32 accumulators. With g = lane / 4, t = lane % 4:
//   a: a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..]
//   b: b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]
//   c: c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..2t+1]
__device__ __forceinline__ void mma_16x8x16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                            std::uint32_t b1) {
  mma_m16n8k16_bf16(c, a, b0, b1);
}

}  // namespace ecsim
