// CPU reference for expert-choice routing (EC-DiT; op names `ec_route`, `permute`, `unpermute`):
//   1. affinities = softmax over experts of the router logits          [T, E] (ref/softmax.hpp)
//   2. within each routing group of G consecutive tokens, every expert takes the C tokens of highest
//      affinity; ties go to the lower token index, so the choice is deterministic
//   3. gather: the chosen tokens' rows in expert-major order           [E, groups, C, d]
//   4. combine: y[t] = sum over the experts that took t of gate * expert output, gate = the raw
//      affinity; the sum runs over experts in ascending order (fixed, no atomics), and a token
//      that no expert took gets 0 (the residual connection carries it)
// A slot is one (expert, group, c) position: slot = (e * groups + g) * C + c. The C slots of one
// (expert, group) hold their tokens in ascending token order, which is the order a GPU compaction
// after a threshold selection produces. Every expert gets exactly C tokens per group; a token can
// be taken by 0..E experts.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::ref {

struct ExpertChoiceShape {
  std::int64_t tokens = 0;        // T, a multiple of group_tokens
  std::int64_t experts = 0;       // E
  std::int64_t group_tokens = 0;  // G
  std::int64_t capacity = 0;      // C tokens per (group, expert), 1 <= C <= G; EC-DiT: G * f_c / E

  std::int64_t groups() const { return tokens / group_tokens; }
  std::int64_t slots() const { return experts * groups() * capacity; }
  void validate(const char* op) const;  // throws PreconditionError
};

struct ExpertChoiceRouting {
  ExpertChoiceShape shape;
  std::vector<std::int64_t> token;  // [E, groups, C] global index of the token in each slot
  std::vector<double> gate;         // [E, groups, C] its affinity to the slot's expert
  // The inverse map, in CSR form, that the deterministic combine walks: the slots that took token t
  // are token_slots[token_slot_offsets[t] .. token_slot_offsets[t + 1]), in ascending expert order.
  std::vector<std::int64_t> token_slot_offsets;  // [T + 1]
  std::vector<std::int64_t> token_slots;         // [E * groups * C]
};

// Steps 2 and the inverse map, from the affinities [T, E].
ExpertChoiceRouting ec_route(const ExpertChoiceShape& s, std::span<const double> probs);

// xe[slot] = x[token[slot]]: [T, d] -> [E * groups * C, d]
std::vector<double> ec_gather(const ExpertChoiceRouting& r, std::span<const double> x, std::int64_t hidden);
// dx[t] = sum over the slots that took t of dxe[slot]: [E * groups * C, d] -> [T, d]
std::vector<double> ec_gather_bwd(const ExpertChoiceRouting& r, std::span<const double> dxe, std::int64_t hidden);

// y[t] = sum over the slots that took t of gate[slot] * ye[slot]: [E * groups * C, d] -> [T, d]
std::vector<double> ec_combine(const ExpertChoiceRouting& r, std::span<const double> ye, std::int64_t hidden);

struct ExpertChoiceCombineGrads {
  std::vector<double> dye;    // [E * groups * C, d]  gate[slot] * dy[token[slot]]
  std::vector<double> dgate;  // [E * groups * C]     <dy[token[slot]], ye[slot]>
};
ExpertChoiceCombineGrads ec_combine_bwd(const ExpertChoiceRouting& r, std::span<const double> ye,
                                        std::span<const double> dy, std::int64_t hidden);

// Gradient of the affinities [T, E] from the gates' gradients: each (token, expert) pair fills at
// most one slot, and affinities no expert chose get 0 (the top-C choice itself has no gradient).
// Feed the result to softmax_rows_bwd for the router logits.
std::vector<double> ec_gate_bwd(const ExpertChoiceRouting& r, std::span<const double> dgate);

}  // namespace ecsim::ref
