// The expert-choice MoE FFN of EC-DiT (ops as simulator/model/moe_ops.cpp lists them):
//   moe.router          gemm           logits = x W_r                       [T, E]
//   moe.route           ec_route       affinities = softmax over experts; every expert takes its top C
//                                      tokens of each group of G (ref/expert_choice.hpp)
//   moe.dispatch_gather permute        xe = the chosen tokens' rows         [E, groups, C, d]
//   moe.expert_fc1      batched_gemm   per expert, + bias                   [E, groups C, f]
//   moe.expert_gelu     gelu
//   moe.expert_fc2      batched_gemm   per expert, + bias                   [E, groups C, d]
//   moe.combine         unpermute      y[t] = sum over the experts that took t of affinity * output
// The gate is the raw affinity; a token no expert took gets y = 0 and keeps only its residual.
// Gradients reach the router through the gates; the top-C choice itself has none.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/config.hpp"
#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"
#include "ref/expert_choice.hpp"

namespace ecsim::model_ref {

struct MoeFfnForward {
  std::vector<double> x;      // [T, d]
  std::vector<double> probs;  // [T, E] affinities
  ref::ExpertChoiceRouting routing;
  std::vector<double> xe;  // [E groups C, d] expert-major
  std::vector<double> u;   // [E groups C, f] before the GeLU
  std::vector<double> g;   // [E groups C, f]
  std::vector<double> ye;  // [E groups C, d]
  std::vector<double> y;   // [T, d]
};

// tokens: a multiple of config.group_tokens.
MoeFfnForward moe_ffn_fwd(const ModelConfig& c, const MoeFfnRefs& p, std::span<const double> params,
                          std::span<const double> x, std::int64_t tokens, const Tracer& trace);
// Returns dx [T, d]: through the experts and through the router.
std::vector<double> moe_ffn_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                                std::span<const double> dy, std::span<double> grads);

}  // namespace ecsim::model_ref
