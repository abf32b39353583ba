// One AdamW step over a flat fp32 buffer (op `adamw`; as torch.optim.AdamW computes it):
//   p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//   param, grad, m, v [n] fp32 (master weights and moments), then param_bf16 <- bf16(p).
// One pass over all of a rank's parameters (the "fused" form): it is bound by reading 4 and
// writing 3 fp32 values and one bf16 per element (30 bytes), moved 8 at a time in 16-byte vectors
// where n and the buffers allow (bf16_chunks.cuh). The bf16 copy was a cast kernel (6 bytes per
// element) of its own until 2026-11-27; the gradient was zeroed here (4 more) until 2026-11-28,
// when the next step's first backward began to write it rather than add to it. The bias
// corrections depend only on the step, so the host computes them once in fp64.
// adamw_step_bf16 is the same update with no master weights: the bf16 weights and bf16 moments are
// read, updated in fp32 and stored rounded (torch.optim.AdamW on a bf16 model keeps its moments in
// the parameters' dtype): 16 bytes per element with the fp32 gradient.
// Either reads its gradient in fp32 or in bf16 (a scenario's grad_dtype "bf16", as PyTorch keeps a
// bf16 model's gradients): 2 bytes per element less, 14 with bf16 weights and moments.
// CPU reference: ref/adamw.hpp. Test: ctest -R adamw (tests/kernels/elementwise_gpu_test.cpp;
// skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include <cmath>
#include <string>
#include <type_traits>

#include "adamw.cuh"
#include "bf16_chunks.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

// State is float (master weights and moments in fp32, with the bf16 copy written beside them) or
// __nv_bfloat16 (the bf16 weights and moments themselves, updated in place; param_bf16 unused).
// Grad is float or __nv_bfloat16.
template <int kVec, class State, class Grad>
__global__ void __launch_bounds__(kThreads)
    adamw_kernel(State* __restrict__ param, const Grad* __restrict__ grad, State* __restrict__ m,
                 State* __restrict__ v, __nv_bfloat16* __restrict__ param_bf16, std::int64_t n, float lr, float beta1,
                 float beta2, float eps, float decay, float correction1, float correction2) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float p[kVec], g[kVec], mi[kVec], vi[kVec];
    load_chunk<kVec>(param + i, p);
    load_chunk<kVec>(grad + i, g);
    load_chunk<kVec>(m + i, mi);
    load_chunk<kVec>(v + i, vi);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      mi[j] = beta1 * mi[j] + (1.0f - beta1) * g[j];
      vi[j] = beta2 * vi[j] + (1.0f - beta2) * g[j] * g[j];
      p[j] = p[j] * decay - lr * (mi[j] / correction1) / (sqrtf(vi[j] / correction2) + eps);
    }
    store_chunk<kVec>(m + i, mi);
    store_chunk<kVec>(v + i, vi);
    store_chunk<kVec>(param + i, p);
    if constexpr (std::is_same_v<State, float>) store_chunk<kVec>(param_bf16 + i, p);
  });
}

// Checks the arguments and launches adamw_kernel<kVec, State, Grad> over the n elements.
template <class State, class Grad>
void launch_adamw(const char* op, const AdamWHyperparameters& h, std::int64_t step, State* param, const Grad* grad,
                  State* m, State* v, __nv_bfloat16* param_bf16, std::int64_t n, cudaStream_t stream) {
  require_positive(n, op, "n");
  require(step >= 1, std::string(op) + ": step counts from 1, got " + std::to_string(step));
  require(h.beta1 >= 0 && h.beta1 < 1 && h.beta2 >= 0 && h.beta2 < 1, std::string(op) + ": betas must lie in [0, 1)");
  require_pointers(op, {{"param", param}, {"grad", grad}, {"m", m}, {"v", v}});
  if constexpr (std::is_same_v<State, float>) require_pointers(op, {{"param_bf16", param_bf16}});
  const double t = static_cast<double>(step);
  const auto correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta1), t));
  const auto correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta2), t));
  const auto decay = static_cast<float>(1.0 - static_cast<double>(h.lr) * static_cast<double>(h.weight_decay));
  // A null param_bf16 (bf16 state) counts as aligned.
  launch_by_chunk(chunks_vectorizable(n, {param, grad, m, v, param_bf16}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(adamw_kernel<kVec, State, Grad>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream,
                             param, grad, m, v, param_bf16, n, h.lr, h.beta1, h.beta2, h.eps, decay, correction1,
                             correction2));
  });
}

}  // namespace

void adamw_step(const AdamWHyperparameters& h, std::int64_t step, float* param, const float* grad, float* m,
                float* v, __nv_bfloat16* param_bf16, std::int64_t n, cudaStream_t stream) {
  launch_adamw("adamw_step", h, step, param, grad, m, v, param_bf16, n, stream);
}

void adamw_step(const AdamWHyperparameters& h, std::int64_t step, float* param, const __nv_bfloat16* grad, float* m,
                float* v, __nv_bfloat16* param_bf16, std::int64_t n, cudaStream_t stream) {
  launch_adamw("adamw_step", h, step, param, grad, m, v, param_bf16, n, stream);
}

void adamw_step_bf16(const AdamWHyperparameters& h, std::int64_t step, __nv_bfloat16* param, const float* grad,
                     __nv_bfloat16* m, __nv_bfloat16* v, std::int64_t n, cudaStream_t stream) {
  launch_adamw<__nv_bfloat16>("adamw_step_bf16", h, step, param, grad, m, v, nullptr, n, stream);
}

void adamw_step_bf16(const AdamWHyperparameters& h, std::int64_t step, __nv_bfloat16* param,
                     const __nv_bfloat16* grad, __nv_bfloat16* m, __nv_bfloat16* v, std::int64_t n,
                     cudaStream_t stream) {
  launch_adamw<__nv_bfloat16>("adamw_step_bf16", h, step, param, grad, m, v, nullptr, n, stream);
}

}  // namespace ecsim
