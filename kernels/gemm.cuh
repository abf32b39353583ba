// Launchers for the matrix products through cuBLAS (ops `gemm`, `batched_gemm`, `grouped_gemm`,
// `grouped_gemm_wgrad`): projections, the router and the expert FFNs, forward and backward.
// Implementation in gemm.cu, CPU reference in ref/gemm.hpp.
//
// Row-major throughout, as the model and the references are: y[m, n] = x[m, k] w[k, n]. bf16
// operands, fp32 accumulation; outputs bf16, or fp32 where the caller accumulates (weight
// gradients, router logits). Each launcher binds `handle` to `stream`, checks its preconditions
// (PreconditionError) and checks the cuBLAS call (CublasError).
//
// Preconditions shared by all: m, n, k > 0 and within 32 bits; n and k multiples of 8 and every
// pointer 16-byte aligned, so that each row starts on a 16-byte boundary and cuBLAS can pick its
// tensor-core kernels that load 16-byte vectors (m, the token count, may be anything).
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ecsim {

// y[m, n] = x[m, k] w[k, n]; the backward shapes are named by the forward's m, n, k.
struct GemmDims {
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
};

// A weight gradient either replaces what its buffer holds or adds to it (accumulation over
// micro-batches into an fp32 gradient buffer).
enum class GradientWrite { kOverwrite, kAccumulate };

// --- gemm -------------------------------------------------------------------------------------
// y = x w: x [m, k] bf16, w [k, n] bf16, y [m, n] bf16 (activations) or fp32 (router logits).
void gemm(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
          const __nv_bfloat16* w, __nv_bfloat16* y);
void gemm(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
          const __nv_bfloat16* w, float* y);
// dx [m, k] (=|+=) dy [m, n] w^T, bf16 (accumulated in fp32 and rounded once: where two gradient
// paths meet at x, e.g. the router's beside the experts').
void gemm_dx(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* dy,
             const __nv_bfloat16* w, __nv_bfloat16* dx, GradientWrite write = GradientWrite::kOverwrite);
// dw [k, n] (=|+=) x^T [k, m] dy [m, n], fp32; or bf16 (a scenario's grad_dtype "bf16", as
// PyTorch keeps a bf16 model's gradients): the product in fp32 (plus, with kAccumulate, the old
// bf16 value), rounded once.
void gemm_dw(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
             const __nv_bfloat16* dy, float* dw, GradientWrite write);
void gemm_dw(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
             const __nv_bfloat16* dy, __nv_bfloat16* dw, GradientWrite write);

// --- batched_gemm: `batch` problems of one shape (expert choice: every expert takes C tokens) ---
// x [B, m, k], w [B, k, n], y [B, m, n], one cublasGemmStridedBatchedEx call.
void batched_gemm(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                  const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y);
// dx [B, m, k] = dy [B, m, n] w[b]^T.
void batched_gemm_dx(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                     const __nv_bfloat16* dy, const __nv_bfloat16* w, __nv_bfloat16* dx);
// dw [B, k, n] (=|+=) x[b]^T dy[b], fp32 or bf16 (as gemm_dw).
void batched_gemm_dw(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                     const __nv_bfloat16* x, const __nv_bfloat16* dy, float* dw, GradientWrite write);
void batched_gemm_dw(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                     const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dw, GradientWrite write);

// --- grouped_gemm: ragged groups sharing n and k (token choice: group g holds rows[g] tokens) ---
// Group g's rows are rows [first_g, first_g + rows[g]) of x [sum rows, k] and y [sum rows, n];
// its weight is w[g] of w [G, k, n]. A group may have 0 rows; the total must be positive.
struct GroupedGemmDims {
  const std::int64_t* rows = nullptr;  // [G], host memory
  std::int64_t groups = 0;             // G
  std::int64_t n = 0;
  std::int64_t k = 0;
};

// cuBLAS's two ways to run ragged groups. A loop of cublasGemmEx on one stream reaches 620-680
// TFLOP/s on skewed expert loads on H100, where cublasGemmGroupedBatchedEx reaches 284-303
// (shared/ANCHORS.md; 651 and 275 measured, docs/PERFORMANCE.md). The runner runs neither: its
// ragged products are RaggedGemm's (ragged_gemm.cuh), a loop of cuBLASLt matmuls that asks the
// heuristic once per row bucket, where cublasGemmEx asks per shape; the profiler times all three
// (profiles/profiler/) and keeps the runner's.
enum class GroupedGemmMethod { kGemmLoop, kGroupedBatched };
const char* grouped_gemm_method_name(GroupedGemmMethod method);

// cublasGemmGroupedBatchedEx reads its matrix pointers from device memory; the launcher writes
// them into a caller-provided workspace of this many bytes (kGemmLoop needs none: nullptr, 0).
// Problem sizes are 32-bit, so at most kMaxGroupedBatchedGroups groups.
constexpr std::int64_t kMaxGroupedBatchedGroups = 512;
std::size_t grouped_gemm_workspace_bytes(std::int64_t groups);

// y[rows of g] = x[rows of g] w[g]: bf16.
void grouped_gemm(cublasHandle_t handle, cudaStream_t stream, GroupedGemmMethod method, const GroupedGemmDims& d,
                  const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y, void* workspace,
                  std::size_t workspace_bytes);
// dx[rows of g] = dy[rows of g] w[g]^T: dy [sum rows, n], dx [sum rows, k], bf16.
void grouped_gemm_dx(cublasHandle_t handle, cudaStream_t stream, GroupedGemmMethod method, const GroupedGemmDims& d,
                     const __nv_bfloat16* dy, const __nv_bfloat16* w, __nv_bfloat16* dx, void* workspace,
                     std::size_t workspace_bytes);
// grouped_gemm_wgrad: dw[g] (=|+=) x[rows of g]^T dy[rows of g], dw [G, k, n] fp32; the inner
// dimension is the group's rows. A group with 0 rows gets dw[g] = 0 (kOverwrite) or keeps its
// value (kAccumulate). A loop of cublasGemmEx only: the grouped-batched alternative is offered
// where its outputs are bf16 (forward, dx), the combination cuBLAS's grouped samples exercise.
void grouped_gemm_wgrad(cublasHandle_t handle, cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x,
                        const __nv_bfloat16* dy, float* dw, GradientWrite write);

}  // namespace ecsim
