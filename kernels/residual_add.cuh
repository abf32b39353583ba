// Launcher for the plain residual add (op `residual_add`, cross_attn.residual), also what adds two
// gradient paths that meet at one tensor; kernel in residual_add.cu, reference: x + y.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

// out = x + y over n values, bf16, the sum in fp32 and rounded once. out may alias x or y.
void residual_add(const __nv_bfloat16* x, const __nv_bfloat16* y, __nv_bfloat16* out, std::int64_t n,
                  cudaStream_t stream);

}  // namespace ecsim
