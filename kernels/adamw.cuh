// Launcher for one AdamW step over a flat fp32 buffer (op `adamw`); kernel in adamw.cu, CPU
// reference in ref/adamw.hpp.
#pragma once

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

// In place over n fp32 values: param (master weights), m, v (moments); grad fp32. step counts from 1.
void adamw_step(const AdamWHyperparameters& h, std::int64_t step, float* param, const float* grad, float* m, float* v,
                std::int64_t n, cudaStream_t stream);

}  // namespace ecsim
