// Launchers for the router softmax over experts (part of ops `ec_route` and `tc_route`); kernels in
// router_softmax.cu, CPU reference in ref/softmax.hpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

// probs[t, :] = softmax(logits[t, :]); logits, probs [T, E] fp32 (routing decisions are made on
// fp32 affinities: bf16 would turn near-ties into ties).
void router_softmax_fwd(const float* logits, float* probs, std::int64_t tokens, std::int64_t experts,
                        cudaStream_t stream);

// dlogits[t, e] = p[t, e] * (dp[t, e] - sum_e' p[t, e'] dp[t, e']); all [T, E] fp32.
void router_softmax_bwd(const float* probs, const float* dprobs, float* dlogits, std::int64_t tokens,
                        std::int64_t experts, cudaStream_t stream);

}  // namespace ecsim
