// Launchers for the gated residual of a DiT block (op `gate_residual`); kernels in
// gate_residual.cu, CPU reference in ref/gate_residual.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "column_chunks.hpp"

namespace ecsim {

// out = x + gate[b] * y;  x, y, out [B, S, d] bf16; gate [B, d] bf16. out may alias x.
// vector_stride: elements from sample b's gate (and dgate) to sample b + 1's; 0 for packed [B, d].
// The adaLN modulation's output [B, k d] is read in place with vector_stride k d (sample_vectors.hpp).
void gate_residual_fwd(const __nv_bfloat16* x, const __nv_bfloat16* y, const __nv_bfloat16* gate, __nv_bfloat16* out,
                       std::int64_t batch, std::int64_t seq, std::int64_t hidden, cudaStream_t stream,
                       std::int64_t vector_stride = 0);

// dy = gate[b] * dout [B, S, d]; dgate = sum over s of dout * y [B, d]. dx is dout itself (the
// residual path passes the gradient through), so no kernel writes it. partials
// [kColumnSumPartials] fp32: the workspace of dgate's row chunks (column_chunks.hpp).
void gate_residual_bwd(const __nv_bfloat16* y, const __nv_bfloat16* gate, const __nv_bfloat16* dout, __nv_bfloat16* dy,
                       __nv_bfloat16* dgate, float* partials, std::int64_t batch, std::int64_t seq,
                       std::int64_t hidden, cudaStream_t stream, std::int64_t vector_stride = 0);

}  // namespace ecsim
