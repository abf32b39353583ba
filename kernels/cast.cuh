// Launcher for the fp32 -> bf16 conversion: the bf16 compute copy of the fp32 master weights after
// each optimizer step, and the router's fp32 logit gradient before its bf16 GEMMs; kernel in cast.cu.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

// out[i] = bf16(in[i]), round to nearest even; in [n] fp32, out [n] bf16.
void cast_fp32_to_bf16(const float* in, __nv_bfloat16* out, std::int64_t n, cudaStream_t stream);

}  // namespace ecsim
