// What the MoE routing kernel tests share, on the GPU (tests/kernels/expert_choice_gpu_test.cpp,
// token_choice_gpu_test.cpp) and under the CPU emulation (tests/emulation/expert_choice_emulated_test.cpp,
// token_choice_emulated_test.cpp): the router softmax's check (kernels/router_softmax.cu against
// ref/softmax.hpp). The expert-choice and
// token-choice checks build on it (expert_choice_check.hpp, token_choice_check.hpp).
// Each test supplies the kernels as a function on host arrays (a GPU run uploads the inputs and
// downloads the outputs); these headers draw the inputs, hold the shapes both run, and check.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "gpu_check.hpp"  // Tolerance, check_close, CheckLog, conversions, random inputs (no device needed for these)
#include "ref/softmax.hpp"

namespace ecsim::test {

// ---- Router softmax (kernels/router_softmax.cu): one warp per token.

struct RouterSoftmaxOutputs {
  std::vector<float> probs;    // [T, E] router_softmax_fwd
  std::vector<float> dlogits;  // [T, E] router_softmax_bwd on its own probs
};

// The launchers on host arrays: logits, dprobs [T, E] fp32.
using RouterSoftmaxKernels = std::function<RouterSoftmaxOutputs(
    std::int64_t tokens, std::int64_t experts, const std::vector<float>& logits, const std::vector<float>& dprobs)>;

struct RouterSoftmaxShape {
  std::int64_t tokens;
  std::int64_t experts;
};

// Shapes that both tests run: 4096 tokens of 64 experts; a last block with 4 of its 8 warps past T
// (they return before any shuffle), E over three warp passes and not a multiple of 32; one expert.
inline const RouterSoftmaxShape kRouterSoftmaxShapes[] = {{4096, 64}, {100, 70}, {9, 1}};

// Runs both kernels on random logits in [-8, 8) and dprobs in [-1, 1); returns the CheckLog summary.
//   probs    fp32 exp and a sum of E terms against fp64: atol 1e-7, rtol 1e-5.
//   dlogits  an fp32 sum of E products, from the kernel's own probs: fp32_sum_tolerance.
inline std::string check_router_softmax(const RouterSoftmaxShape& s, std::uint64_t seed,
                                        const RouterSoftmaxKernels& kernels) {
  CAPTURE(seed);
  CAPTURE(s.tokens);
  CAPTURE(s.experts);
  const auto n = static_cast<std::size_t>(s.tokens * s.experts);
  const auto logits = to_float(random_values(n, seed, -8, 8));
  const auto dprobs = to_float(random_values(n, seed + 1));
  const RouterSoftmaxOutputs out = kernels(s.tokens, s.experts, logits, dprobs);
  CheckLog log;
  const auto probs = to_double(out.probs);
  log.check("probs", probs, ref::softmax_rows(to_double(logits), s.tokens, s.experts), {1e-7, 1e-5});
  const auto dlogits = ref::softmax_rows_bwd(probs, to_double(dprobs), s.tokens, s.experts);
  log.check("dlogits", to_double(out.dlogits), dlogits, fp32_sum_tolerance(dlogits));
  return log.summary();
}

}  // namespace ecsim::test
