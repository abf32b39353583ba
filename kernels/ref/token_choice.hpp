// CPU reference for token-choice routing (the GShard/Switch baseline; op names `tc_route`, `permute`,
// `unpermute`):
//   1. affinities = softmax over experts of the router logits         [T, E] (ref/softmax.hpp)
//   2. every token picks its top-k experts (ties go to the lower expert index); the gate is the
//      affinity, or, with normalize_gates, the affinity divided by the sum over the k picks
//   3. capacity: assignments are granted in token order (token t before t + 1, a token's picks in
//      rank order); an expert that already holds `capacity` rows drops the rest. Dropless routing
//      (capacity < 0) keeps every assignment.
//   4. permute: kept assignments' rows in expert-major order, ragged:   [rows, d], rows of expert e
//      at [expert_offsets[e], expert_offsets[e + 1]), in token order
//   5. unpermute: y[t] = sum over t's kept picks, in rank order, of gate * expert output; a token
//      whose picks were all dropped gets 0 (the residual connection carries it)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::ref {

struct TokenChoiceShape {
  std::int64_t tokens = 0;     // T
  std::int64_t experts = 0;    // E
  std::int64_t top_k = 0;      // k, 1 <= k <= E
  std::int64_t capacity = -1;  // rows per expert; < 0 means dropless
  bool normalize_gates = false;

  bool dropless() const { return capacity < 0; }
  std::int64_t assignments() const { return tokens * top_k; }
  void validate(const char* op) const;  // throws PreconditionError
};

struct TokenChoiceRouting {
  TokenChoiceShape shape;
  std::vector<std::int64_t> expert;          // [T, k] picked experts, highest affinity first
  std::vector<double> gate;                  // [T, k]
  std::vector<std::int64_t> row;             // [T, k] row in the permuted buffer, -1 when dropped
  std::vector<std::int64_t> counts;          // [E] assignments asked of each expert, before dropping
  std::vector<std::int64_t> expert_offsets;  // [E + 1] kept rows per expert, prefix-summed
  std::vector<std::int64_t> row_assignment;  // [rows] the assignment t * k + rank each row holds

  std::int64_t rows() const { return expert_offsets.back(); }
  std::int64_t dropped() const { return shape.assignments() - rows(); }
};

TokenChoiceRouting tc_route(const TokenChoiceShape& s, std::span<const double> probs);

// xp[row] = x[token of row]: [T, d] -> [rows, d]
std::vector<double> tc_permute(const TokenChoiceRouting& r, std::span<const double> x, std::int64_t hidden);
// dx[t] = sum over t's kept picks, in rank order, of dxp[row]: [rows, d] -> [T, d]
std::vector<double> tc_permute_bwd(const TokenChoiceRouting& r, std::span<const double> dxp, std::int64_t hidden);

// y[t] = sum over t's kept picks of gate * yp[row]: [rows, d] -> [T, d]
std::vector<double> tc_unpermute(const TokenChoiceRouting& r, std::span<const double> yp, std::int64_t hidden);

struct TokenChoiceUnpermuteGrads {
  std::vector<double> dyp;    // [rows, d]  gate * dy[t]
  std::vector<double> dgate;  // [T, k]     <dy[t], yp[row]>, 0 for dropped picks
};
TokenChoiceUnpermuteGrads tc_unpermute_bwd(const TokenChoiceRouting& r, std::span<const double> yp,
                                           std::span<const double> dy, std::int64_t hidden);

// Gradient of the affinities [T, E] from the gates' gradients [T, k] (through the normalization
// when it is on); feed the result to softmax_rows_bwd for the router logits.
std::vector<double> tc_gate_bwd(const TokenChoiceRouting& r, std::span<const double> probs,
                                std::span<const double> dgate);

}  // namespace ecsim::ref
