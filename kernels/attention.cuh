// Launchers for fused (flash-style) scaled dot-product attention (ops `attention_fwd`,
// `attention_bwd`); kernels in attention.cu, CPU reference in ref/attention.hpp. Grouped-query,
// self or cross, optionally causal (bottom-right aligned), head dim 64 or 128, softmax scale
// 1/sqrt(head_dim). Layouts are the projection GEMMs' outputs, as in the reference:
//   q, out, dout, dq  [B, Sq, H, D]    bf16
//   k, v, dk, dv      [B, Skv, KVH, D] bf16
//   lse, delta        [B, H, Sq]       fp32
// Every pointer must be 16-byte aligned (tiles move as 16-byte vectors).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

struct AttentionDims {
  std::int64_t batch = 0;
  std::int64_t heads = 0;     // H query heads
  std::int64_t kv_heads = 0;  // KVH, divides H; query head h reads KV head h / (H / KVH)
  std::int64_t q_len = 0;     // Sq
  std::int64_t kv_len = 0;    // Skv; causal attention needs Skv >= Sq
  std::int64_t head_dim = 0;  // D, 64 or 128
  bool causal = false;        // query i sees keys j <= i + (Skv - Sq)
  // Elements from one token's row to the next in q and dq, and in k, v, dk and dv; 0: packed rows
  // (H D and KVH D). A fused projection's output is read and its gradient written in place, e.g. q,
  // k and v as column slices of one [B S, (H + 2 KVH) D] tensor. out and dout are packed.
  std::int64_t q_row_stride = 0;
  std::int64_t kv_row_stride = 0;

  std::int64_t q_elements() const { return batch * q_len * heads * head_dim; }
  std::int64_t kv_elements() const { return batch * kv_len * kv_heads * head_dim; }
  std::int64_t lse_elements() const { return batch * heads * q_len; }
  std::int64_t q_stride() const { return q_row_stride != 0 ? q_row_stride : heads * head_dim; }
  std::int64_t kv_stride() const { return kv_row_stride != 0 ? kv_row_stride : kv_heads * head_dim; }
};

// Throws PreconditionError naming `op` when the kernels cannot run these dimensions.
void check_attention_dims(const AttentionDims& d, const char* op);

// Queries per block of the forward, 4 warps either way. k64: 16 rows per warp. k128: 32 rows per
// warp, so each K and V fragment a warp loads from shared memory serves two mma's, at about twice
// the registers (half the blocks per SM); head dim 128 then streams 32-key tiles instead of 64.
// The results agree within fp32 rounding (identical at head dim 64).
// kAuto: k128 at head dim 128 from kForward128MinQueries queries on, k64 otherwise. On an H200
// (2026-11-28, ecsim-bench-attention) k128 ran 2 x 16 x 4096 x 128 at 233.5 TFLOP/s against k64's
// 214.5, and lost at every head-dim-64 shape (EC-DiT's 128 to 256 tokens: 183 to 190 against
// 195 to 202); at head dim 128 over fewer queries it was not measured, and half the blocks would
// leave short grids emptier.
enum class AttentionForwardRows { kAuto, k64, k128 };
constexpr std::int64_t kForward128MinQueries = 2048;

// What kAuto runs for these dimensions (k64 or k128); any other choice is returned as given.
AttentionForwardRows forward_rows_for(const AttentionDims& d, AttentionForwardRows rows = AttentionForwardRows::kAuto);

// out = softmax(q k^T / sqrt(D)) v per (sample, head), and lse, the natural log of each query
// row's softmax denominator (of the scaled scores), which the backward reuses.
void flash_attention_forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, __nv_bfloat16* out,
                             float* lse, const AttentionDims& d, cudaStream_t stream,
                             AttentionForwardRows rows = AttentionForwardRows::kAuto);

// Which kernels compute the backward's dq, dk and dv (the results agree within bf16 rounding).
//   kSplit  a dK/dV pass per 64-key tile and a dQ pass per 64-query tile (attention.cu): any shape.
//   kFused  one pass per (sample, KV head) holding every key (attention_backward_fused.cu): head dim
//           64 and at most 256 keys (fused_attention_backward_fits); 5 tile products per step
//           instead of the split passes' 7.
//   kAuto   kFused where it fits with two key tiles per warp (129 to 256 keys: at 128 keys or fewer
//           the split passes measured faster, attention_backward_fused.cuh), the attention is not
//           causal (the split passes skip the tiles the mask hides) and there are at least as many
//           (sample, KV head) blocks as the device has SMs; kSplit otherwise.
enum class AttentionBackwardKernels { kAuto, kSplit, kFused };

// Whether kFused can run these dimensions.
bool fused_attention_backward_fits(const AttentionDims& d);

// dq, dk, dv from the forward's inputs, out and lse, and dout. `delta` [B, H, Sq] fp32 is scratch
// that receives rowsum(dout * out). dk and dv are summed over the query heads of each KV group.
// Deterministic: every sum runs in a fixed order (no atomics), so reruns match bit for bit.
// kFused where it does not fit throws PreconditionError.
void flash_attention_backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                              const __nv_bfloat16* out, const float* lse, const __nv_bfloat16* dout, float* delta,
                              __nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv, const AttentionDims& d,
                              cudaStream_t stream, AttentionBackwardKernels kernels = AttentionBackwardKernels::kAuto);

}  // namespace ecsim
