// Launchers for expert-choice routing (op `ec_route`): router softmax, then every expert's top-C
// tokens in each routing group; kernels in ec_route.cu, CPU reference in ref/expert_choice.hpp.
// The gather and the gate-weighted combine are in ec_permute.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "routing_limits.hpp"  // kMaxGroupTokens, kMaxExperts

namespace ecsim {

struct ExpertChoiceDims {
  std::int64_t tokens = 0;        // T, a multiple of group_tokens
  std::int64_t experts = 0;       // E <= kMaxExperts
  std::int64_t group_tokens = 0;  // G <= kMaxGroupTokens
  std::int64_t capacity = 0;      // C tokens per (group, expert), 1 <= C <= G

  std::int64_t groups() const { return tokens / group_tokens; }
  std::int64_t slots() const { return experts * groups() * capacity; }
};

// Throws PreconditionError naming `op` when the dimensions cannot be routed.
void check_expert_choice_dims(const ExpertChoiceDims& d, const char* op);

// Softmax of logits [T, E] fp32 into probs [T, E] fp32, then ec_select.
void ec_route(const float* logits, float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
              cudaStream_t stream);

// Top-C of each (group, expert) by affinity, ties to the lower token index. slot = (e * groups + g)
// * C + c; the C slots of one (expert, group) hold their tokens in ascending token order.
//   probs   [T, E] fp32 in
//   token   [E, groups, C] int32: global token index of each slot
//   gate    [E, groups, C] fp32: its affinity (the combine weight)
//   slot_of [T, E] int32: the slot that holds (t, e), -1 when expert e did not take token t
void ec_select(const float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
               cudaStream_t stream);

// dprobs[t, e] = dgate[slot_of[t, e]], 0 where e did not take t: dgate [slots] fp32, dprobs [T, E]
// fp32. Feed dprobs to router_softmax_bwd for the router logits' gradient.
void ec_gate_bwd(const float* dgate, const int* slot_of, float* dprobs, const ExpertChoiceDims& d, cudaStream_t stream);

}  // namespace ecsim
