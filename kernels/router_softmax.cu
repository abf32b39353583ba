// Router softmax over the experts of each token (part of ops `ec_route` and `tc_route`):
//   probs[t, e] = exp(logits[t, e] - max) / sum_e exp(logits[t, e] - max)
//   logits, probs, dprobs, dlogits [T, E] fp32.
// One warp per token: E is tens to a few hundred, so a row fits a warp's registers in one or a
// few passes, and the warp reductions need no shared memory or block barriers.
// CPU reference: ref/softmax.hpp. Test: ctest -R "router softmax" (tests/kernels/
// expert_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// expert_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "launch.cuh"
#include "launch_check.hpp"
#include "router_softmax.cuh"

namespace ecsim {
namespace {

constexpr int kThreads = 256;
constexpr int kTokensPerBlock = kThreads / kWarpSize;

__global__ void __launch_bounds__(kThreads)
    router_softmax_fwd_kernel(const float* __restrict__ logits, float* __restrict__ probs, std::int64_t tokens,
                              int experts) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kTokensPerBlock + threadIdx.x / kWarpSize;
  if (t >= tokens) return;  // whole warps leave together, so the shuffles below stay full-warp
  const int lane = threadIdx.x % kWarpSize;
  const float* row = logits + t * experts;  // [E]
  float row_max = -INFINITY;
  for (int e = lane; e < experts; e += kWarpSize) row_max = fmaxf(row_max, row[e]);
  row_max = warp_max(row_max);
  float sum = 0;
  for (int e = lane; e < experts; e += kWarpSize) sum += expf(row[e] - row_max);
  const float inv = 1.0f / warp_sum(sum);
  for (int e = lane; e < experts; e += kWarpSize) probs[t * experts + e] = expf(row[e] - row_max) * inv;
}

__global__ void __launch_bounds__(kThreads)
    router_softmax_bwd_kernel(const float* __restrict__ probs, const float* __restrict__ dprobs,
                              float* __restrict__ dlogits, std::int64_t tokens, int experts) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kTokensPerBlock + threadIdx.x / kWarpSize;
  if (t >= tokens) return;
  const int lane = threadIdx.x % kWarpSize;
  const float* p = probs + t * experts;    // [E]
  const float* dp = dprobs + t * experts;  // [E]
  float dot = 0;
  for (int e = lane; e < experts; e += kWarpSize) dot += p[e] * dp[e];
  dot = warp_sum(dot);
  for (int e = lane; e < experts; e += kWarpSize) dlogits[t * experts + e] = p[e] * (dp[e] - dot);
}

unsigned blocks_for(std::int64_t tokens) {
  return static_cast<unsigned>((tokens + kTokensPerBlock - 1) / kTokensPerBlock);
}

void check_shape(std::int64_t tokens, std::int64_t experts, const char* op) {
  require_positive(tokens, op, "tokens");
  require_positive(experts, op, "experts");
  require_int32(experts, op, "experts");
  require_int32((tokens + kTokensPerBlock - 1) / kTokensPerBlock, op, "blocks (tokens / 8)");
}

}  // namespace

void router_softmax_fwd(const float* logits, float* probs, std::int64_t tokens, std::int64_t experts,
                        cudaStream_t stream) {
  check_shape(tokens, experts, "router_softmax_fwd");
  require_pointers("router_softmax_fwd", {{"logits", logits}, {"probs", probs}});
  CUDA_CHECK(launch_kernel(router_softmax_fwd_kernel, blocks_for(tokens), kThreads, 0, stream, logits, probs, tokens,
                           static_cast<int>(experts)));
}

void router_softmax_bwd(const float* probs, const float* dprobs, float* dlogits, std::int64_t tokens,
                        std::int64_t experts, cudaStream_t stream) {
  check_shape(tokens, experts, "router_softmax_bwd");
  require_pointers("router_softmax_bwd", {{"probs", probs}, {"dprobs", dprobs}, {"dlogits", dlogits}});
  CUDA_CHECK(launch_kernel(router_softmax_bwd_kernel, blocks_for(tokens), kThreads, 0, stream, probs, dprobs, dlogits,
                           tokens, static_cast<int>(experts)));
}

}  // namespace ecsim
