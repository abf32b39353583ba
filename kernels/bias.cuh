// Launchers for the GEMM bias, forward and backward (part of ops `gemm` and `batched_gemm`: the
// cuBLAS launchers in gemm.cuh compute x w only); kernels in bias.cu, CPU reference: ref/gemm.hpp
// (the bias term of ref::gemm and its dbias). Groups cover the expert GEMMs, one bias per expert.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "column_chunks.hpp"
#include "gemm.cuh"

namespace ecsim {

// y[g, r, :] += bias[g, :]: y [G, rows, n] bf16, bias [G, n] bf16; the sum in fp32, rounded once.
void bias_add(__nv_bfloat16* y, const __nv_bfloat16* bias, std::int64_t groups, std::int64_t rows, std::int64_t n,
              cudaStream_t stream);

// dbias[g, :] (=|+=) sum over r of dy[g, r, :]: dy [G, rows, n] bf16, dbias [G, n] fp32 or bf16
// (the fp32 sum, plus the old value with kAccumulate, rounded once); partials [kColumnSumPartials]
// fp32 workspace, for the row chunks (column_chunks.hpp). The rows are summed in a fixed order (no
// atomics), so reruns match bit for bit.
void bias_grad(const __nv_bfloat16* dy, float* dbias, std::int64_t groups, std::int64_t rows, std::int64_t n,
               GradientWrite write, float* partials, cudaStream_t stream);
void bias_grad(const __nv_bfloat16* dy, __nv_bfloat16* dbias, std::int64_t groups, std::int64_t rows, std::int64_t n,
               GradientWrite write, float* partials, cudaStream_t stream);

// The same over ragged groups (token choice's dropless experts): group g's rows[g] rows follow the
// earlier groups' in y (or dy) [sum rows, n]; bias, dbias [groups, n]. One launch per non-empty
// group; an empty group's dbias is zeroed by kOverwrite (a memset) and left as it was by kAccumulate.
void ragged_bias_add(__nv_bfloat16* y, const __nv_bfloat16* bias, const std::int64_t* rows, std::int64_t groups,
                     std::int64_t n, cudaStream_t stream);
void ragged_bias_grad(const __nv_bfloat16* dy, float* dbias, const std::int64_t* rows, std::int64_t groups,
                      std::int64_t n, GradientWrite write, float* partials, cudaStream_t stream);
void ragged_bias_grad(const __nv_bfloat16* dy, __nv_bfloat16* dbias, const std::int64_t* rows, std::int64_t groups,
                      std::int64_t n, GradientWrite write, float* partials, cudaStream_t stream);

}  // namespace ecsim
