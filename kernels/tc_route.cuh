// Launchers for token-choice routing (op `tc_route`, the GShard/Switch baseline EC-DiT is compared
// with): router softmax, every token's top-k experts, per-expert counts, capacity (dropping in token
// order) or dropless, and each kept pick's row in the expert-major permuted buffer. Kernels in
// tc_route.cu, CPU reference in ref/token_choice.hpp; the permute and unpermute are in
// tc_permute.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "routing_limits.hpp"  // kMaxTopK, kMaxTokenChoiceExperts

namespace ecsim {

struct TokenChoiceDims {
  std::int64_t tokens = 0;     // T
  std::int64_t experts = 0;    // E <= kMaxTokenChoiceExperts
  std::int64_t top_k = 0;      // k in [1, min(E, kMaxTopK)]
  std::int64_t capacity = -1;  // rows per expert; < 0: dropless
  bool normalize_gates = false;
  // With a capacity: every expert's rows start at e C and all E C rows are used (the capacity
  // buffers of GShard, which the simulator prices as a batched GEMM); rows no pick fills are zeros
  // in the permuted buffer and in the unpermute's gradient. Otherwise the kept rows are packed.
  bool padded = false;

  bool dropless() const { return capacity < 0; }
  std::int64_t assignments() const { return tokens * top_k; }
  // Rows the permuted buffer needs at most (the routing decides how many are used: offsets[E]).
  std::int64_t max_rows() const;
};

// Throws PreconditionError naming `op` when the dimensions cannot be routed.
void check_token_choice_dims(const TokenChoiceDims& d, const char* op);

// The routing of one batch, on the device (int32 unless noted):
struct TokenChoiceRouting {
  int* expert = nullptr;          // [T, k] picked experts, highest affinity first (ties: lower index)
  float* gate = nullptr;          // [T, k] fp32: the affinity, or over the sum of the k picked
  int* row = nullptr;             // [T, k] row in the permuted buffer, -1 when dropped
  int* counts = nullptr;          // [E] picks asked of each expert, before dropping
  int* offsets = nullptr;         // [E + 1] where expert e's rows start, in token order: kept rows
                                  //   prefix-summed, or e C when padded; offsets[E] = rows used
  int* row_assignment = nullptr;  // [max_rows] the pick t * k + j each row holds, -1 for padding
};

// Softmax of logits [T, E] fp32 into probs [T, E] fp32, then tc_select.
void tc_route(const float* logits, float* probs, const TokenChoiceRouting& r, const TokenChoiceDims& d,
              cudaStream_t stream);

// Picks, gates, counts, offsets and rows from probs [T, E] fp32, exactly as ref::tc_route: picks
// are granted in token order (t before t + 1, a token's picks in rank order) and an expert holding
// `capacity` rows drops the rest. Deterministic (no atomics). The number of rows used is
// offsets[E], on the device: a caller that sizes ragged GEMMs copies offsets to the host.
void tc_select(const float* probs, const TokenChoiceRouting& r, const TokenChoiceDims& d, cudaStream_t stream);

// dprobs [T, E] fp32 from dgate [T, k] fp32: the gate's gradient at the picked experts (through
// the normalization when it is on), 0 elsewhere. Feed dprobs to router_softmax_bwd.
void tc_gate_bwd(const float* probs, const float* dgate, const TokenChoiceRouting& r, float* dprobs,
                 const TokenChoiceDims& d, cudaStream_t stream);

}  // namespace ecsim
