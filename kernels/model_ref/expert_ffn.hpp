// The E expert FFNs of a MoE layer over rows already grouped by expert (both routings share it):
//   moe.expert_fc1   u  = xe W1[e] + b1[e]   [rows, f]
//   moe.expert_gelu  g  = gelu(u)
//   moe.expert_fc2   ye = g W2[e] + b2[e]    [rows, d]
// rows[e] rows of expert e, consecutive in expert order: equal counts under expert choice (the
// simulator's `batched_gemm`), ragged under token choice (`grouped_gemm`, or `batched_gemm` where
// the simulator pads every expert to its capacity); ref::grouped_gemm computes both.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"

namespace ecsim::model_ref {

struct ExpertFfnForward {
  std::vector<double> u;   // [rows, f] before the GeLU
  std::vector<double> g;   // [rows, f]
  std::vector<double> ye;  // [rows, d]
};

// rows: [E]; xe [sum rows, d]. gemm_op names fc1 and fc2 in the trace.
ExpertFfnForward expert_ffn_fwd(const ExpertsRef& ex, std::span<const double> params,
                                std::span<const std::int64_t> rows, std::span<const double> xe, const char* gemm_op,
                                const Tracer& trace);
// Returns dxe [sum rows, d]; adds the experts' weight and bias gradients into grads.
std::vector<double> expert_ffn_bwd(const ExpertsRef& ex, std::span<const double> params,
                                   std::span<const std::int64_t> rows, std::span<const double> xe,
                                   const ExpertFfnForward& f, std::span<const double> dye, std::span<double> grads);

}  // namespace ecsim::model_ref
