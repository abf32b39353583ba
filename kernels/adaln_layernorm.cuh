// Launchers for LayerNorm without affine parameters fused with the adaLN modulation (op
// `adaln_layernorm`); kernels in adaln_layernorm.cu, CPU reference in ref/adaln_layernorm.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "column_chunks.hpp"

namespace ecsim {

// y = LN(x) * (1 + scale[b]) + shift[b]; also stores each row's mean and 1/sqrt(var + eps).
//   x, y [B, S, d] bf16; shift, scale [B, d] bf16; mean, rstd [B, S] fp32
// vector_stride: elements from sample b's shift, scale (dshift, dscale) to sample b + 1's; 0 for
// packed [B, d]. The adaLN modulation's output [B, k d] is read in place (sample_vectors.hpp).
void adaln_layernorm_fwd(const __nv_bfloat16* x, const __nv_bfloat16* shift, const __nv_bfloat16* scale,
                         __nv_bfloat16* y, float* mean, float* rstd, std::int64_t batch, std::int64_t seq,
                         std::int64_t hidden, float eps, cudaStream_t stream, std::int64_t vector_stride = 0);

// adaln_layernorm_bwd's fp32 workspace: the row chunks of its two column sums (column_chunks.hpp).
constexpr std::int64_t kAdaLnBwdPartials = 2 * kColumnSumPartials;

// dx [B, S, d]; dshift, dscale [B, d] (sums over the S rows of each sample), all bf16.
// dx = dresidual + the LayerNorm's input gradient, added in fp32 and rounded once: dresidual [B, S, d]
// is the gradient that reaches x along the residual path (a block's norm opens a branch that
// rejoins x), or null where there is none (the final norm). dresidual may be dx itself.
// partials [kAdaLnBwdPartials] fp32 workspace. dshift, dscale and partials all null: a plain
// LayerNorm (scale zero), whose shift and scale are no parameters: dx only.
void adaln_layernorm_bwd(const __nv_bfloat16* x, const __nv_bfloat16* scale, const float* mean, const float* rstd,
                         const __nv_bfloat16* dy, const __nv_bfloat16* dresidual, __nv_bfloat16* dx,
                         __nv_bfloat16* dshift, __nv_bfloat16* dscale, float* partials, std::int64_t batch,
                         std::int64_t seq, std::int64_t hidden, cudaStream_t stream, std::int64_t vector_stride = 0);

}  // namespace ecsim
