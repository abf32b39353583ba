// CPU reference for one AdamW step over a flat fp32 buffer (op name `adamw`; Loshchilov & Hutter,
// as torch.optim.AdamW computes it):
//   p <- p * (1 - lr * weight_decay)             decoupled weight decay, before the Adam update
//   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
//   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)     t = step, from 1
// The buffers are the fp32 master weights and moments [N]; the arithmetic runs in fp64 and is
// rounded once per stored value.
#pragma once

#include <cstdint>
#include <span>

namespace ecsim::ref {

struct AdamWConfig {
  double lr = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

void adamw_step(const AdamWConfig& c, std::int64_t step, std::span<float> param, std::span<const float> grad,
                std::span<float> m, std::span<float> v);

// The same step on bf16 storage (no master weights): param, m and v hold bf16 values (as floats);
// each stored value is the fp64 result rounded to the nearest bf16 (ties to even).
void adamw_step_bf16(const AdamWConfig& c, std::int64_t step, std::span<float> param, std::span<const float> grad,
                     std::span<float> m, std::span<float> v);

}  // namespace ecsim::ref
