// The MoE FFN of EC-DiT, expert-choice or token-choice (ModelConfig::routing), with the ops
// simulator/model/moe_ops.cpp lists for it:
//   moe.router           gemm            logits = x W_r, no bias                       [T, E]
//   moe.route            ec_route        affinities = softmax over experts; every expert takes its
//                                        top C tokens of each group of G (ref/expert_choice.hpp)
//                        tc_route        affinities as above; every token picks its top k experts,
//                                        an expert keeps at most C picks in token order, or all of
//                                        them when dropless (ref/token_choice.hpp)
//   moe.dispatch_gather  permute         xe = the routed tokens' rows, expert-major    [rows, d]
//   moe.expert_fc1/gelu/fc2              the experts' FFNs (expert_ffn.hpp)            [rows, d]
//   moe.combine          unpermute       y[t] = sum over t's experts of gate * output  [T, d]
// rows: E groups C under expert choice; the kept picks under token choice. The gate is the raw
// affinity (no normalization over the k picks, as the simulator's GShard-style baseline); a token
// no expert took gets y = 0 and keeps only its residual. Gradients reach the router through the
// gates; the top-C or top-k choice itself has none.
// Token choice with a capacity: the simulator pads every expert to C rows and prices fc1/fc2 as
// `batched_gemm`; padding rows are never combined, so the kept rows' math is the padded one and
// this reference computes only them (ragged, as `grouped_gemm` does when dropless).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/config.hpp"
#include "model_ref/expert_ffn.hpp"
#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"
#include "ref/expert_choice.hpp"
#include "ref/token_choice.hpp"

namespace ecsim::model_ref {

struct MoeFfnForward {
  Routing kind = Routing::kExpertChoice;
  std::vector<double> x;                  // [T, d]
  std::vector<double> probs;              // [T, E] affinities
  ref::ExpertChoiceRouting routing;       // expert choice; empty under token choice
  ref::TokenChoiceRouting token_routing;  // token choice; empty under expert choice
  std::vector<std::int64_t> rows;         // [E] rows per expert
  std::vector<double> xe;                 // [rows, d] expert-major
  ExpertFfnForward experts;               // u, g, ye over the rows
  std::vector<double> y;                  // [T, d]
};

// tokens: under expert choice a multiple of config.group_tokens.
MoeFfnForward moe_ffn_fwd(const ModelConfig& c, const MoeFfnRefs& p, std::span<const double> params,
                          std::span<const double> x, std::int64_t tokens, const Tracer& trace);
// Returns dx [T, d]: through the experts and through the router.
std::vector<double> moe_ffn_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                                std::span<const double> dy, std::span<double> grads);

}  // namespace ecsim::model_ref
