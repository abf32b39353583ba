// The fused attention backward for short key sequences (attention_backward_fused.cu), declared for
// flash_attention_backward's launcher (attention.cu), which checks the shape, the pointers and
// their alignment and runs the delta pass before it. Callers use attention.cuh.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "attention.cuh"

namespace ecsim {

// The longest key sequence one block holds: 8 warps of two row tiles of 16 keys.
constexpr std::int64_t kFusedBackwardMaxKeys = 256;
// The longest held with one row tile per warp (8 x 16 keys). At or below it the split passes were
// the faster on an H200 (2026-11-28: forward+backward 96.9 against 94.5 TFLOP/s at 128 keys), so
// the launcher's kAuto takes the fused pass only above it (130.5 against 116.4 at 256 keys).
constexpr std::int64_t kFusedBackwardOneTileKeys = 128;

// dq, dk and dv for head dim 64 and kv_len <= kFusedBackwardMaxKeys, from delta as the launcher
// computed it. Throws a CUDA error if the launch fails.
void launch_attention_backward_fused(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                                     const float* lse, const __nv_bfloat16* dout, const float* delta,
                                     __nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv, const AttentionDims& d,
                                     cudaStream_t stream);

}  // namespace ecsim
