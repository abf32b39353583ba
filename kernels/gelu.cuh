// Launchers for GeLU, tanh form (op `gelu`); kernels in gelu.cu, CPU reference in ref/gelu.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

// y = gelu(x), elementwise over n values; x, y [n] bf16.
void gelu_fwd(const __nv_bfloat16* x, __nv_bfloat16* y, std::int64_t n, cudaStream_t stream);
// dx = dy * gelu'(x); x, dy, dx [n] bf16.
void gelu_bwd(const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dx, std::int64_t n, cudaStream_t stream);

}  // namespace ecsim
