// Launchers for one AdamW step over flat buffers (op `adamw`): fp32 master weights and moments, or
// bf16 weights and moments; kernel in adamw.cu, CPU reference in ref/adamw.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

struct AdamWHyperparameters {
  float lr = 1e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

// In place over n fp32 values: param (master weights), m, v (moments); step counts from 1. In the
// same pass, param_bf16 [n] receives the updated param rounded to bf16 (the copy the next forward
// reads). grad [n] fp32 is only read: the next step's first backward overwrites it (the runner's
// weight gradients are written by the first micro-batch and added to by the others).
void adamw_step(const AdamWHyperparameters& h, std::int64_t step, float* param, const float* grad, float* m,
                float* v, __nv_bfloat16* param_bf16, std::int64_t n, cudaStream_t stream);
// The same from bf16 gradients (a scenario's grad_dtype "bf16"), read and widened to fp32.
void adamw_step(const AdamWHyperparameters& h, std::int64_t step, float* param, const __nv_bfloat16* grad, float* m,
                float* v, __nv_bfloat16* param_bf16, std::int64_t n, cudaStream_t stream);

// The same step with no master weights (a scenario's master_dtype and moment_dtype "bf16"): param
// (the bf16 weights the kernels read), m and v [n] bf16, in place; the arithmetic in fp32, each
// stored value rounded to the nearest bf16. grad [n] fp32, only read.
void adamw_step_bf16(const AdamWHyperparameters& h, std::int64_t step, __nv_bfloat16* param, const float* grad,
                     __nv_bfloat16* m, __nv_bfloat16* v, std::int64_t n, cudaStream_t stream);
// The same from bf16 gradients: everything in bf16, as torch.optim.AdamW on a bf16 model.
void adamw_step_bf16(const AdamWHyperparameters& h, std::int64_t step, __nv_bfloat16* param,
                     const __nv_bfloat16* grad, __nv_bfloat16* m, __nv_bfloat16* v, std::int64_t n,
                     cudaStream_t stream);

}  // namespace ecsim
