// Launchers for SiLU (op `silu`, embed.timestep_silu); kernels in silu.cu, CPU reference in
// model_ref/silu.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

// y = x sigmoid(x), elementwise over n values; x, y [n] bf16.
void silu_fwd(const __nv_bfloat16* x, __nv_bfloat16* y, std::int64_t n, cudaStream_t stream);
// dx = dy s (1 + x (1 - s)), s = sigmoid(x); x, dy, dx [n] bf16.
void silu_bwd(const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dx, std::int64_t n, cudaStream_t stream);

}  // namespace ecsim
