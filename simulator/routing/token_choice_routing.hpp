// Token-choice routing (GShard/Switch top-k) of one MoE layer over one expert-parallel group,
// token by token. Each token's k experts are drawn without replacement in proportion to the
// experts' shares (Plackett-Luce: the top-k of log(share) + Gumbel noise, i.e. a softmax router
// with noisy logits; for k = 1 a token picks expert e with probability share_e).
//
// With a capacity, every source rank may send at most `capacity` tokens to each expert, first
// choices before second choices, in token order (GShard's priority); the rest are dropped and
// ride the residual connection. The capacity buffers are padded, so each expert computes
// capacity x ranks rows whatever its load. Dropless: every choice is kept and the expert GEMMs
// are ragged.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/random_stream.hpp"

namespace ecsim {

struct TokenChoiceSetup {
  std::int64_t ranks = 1;            // expert-parallel group; each rank routes its own tokens
  std::int64_t tokens_per_rank = 0;  // one micro-batch of one rank
  std::int64_t experts = 0;          // placed in order: expert e on rank e / (experts / ranks)
  std::int64_t top_k = 1;
  std::int64_t capacity = 0;         // per (source rank, expert); 0: dropless
  std::int64_t local_experts() const { return experts / ranks; }
};

struct TokenChoiceLayer {
  TokenChoiceSetup shape;
  std::vector<std::int64_t> sent;          // [ranks x experts] kept (token, expert) pairs, row-major
  std::int64_t assignments = 0;            // tokens x k over the group
  std::int64_t dropped = 0;                // pairs beyond capacity
  std::int64_t tokens = 0;                 // tokens over the group
  std::int64_t tokens_without_expert = 0;  // tokens all of whose choices were dropped
  std::vector<std::int64_t> experts_per_token;  // [k + 1]: tokens that kept 0..k experts

  bool padded() const { return shape.capacity > 0; }
  std::int64_t kept() const { return assignments - dropped; }
  // Rows expert `e` computes: its kept tokens, or its full capacity buffers when padded.
  std::int64_t computed_rows(std::int64_t e) const;
  std::int64_t computed_rows() const;  // over all experts of the group
  // Rows each local expert of rank `q` computes (OpContext.expert_rows of that rank).
  std::vector<std::int64_t> expert_rows(std::int64_t q) const;
  // The rank whose experts compute the most rows (the one the others wait for).
  std::int64_t busiest_rank() const;
  // [ranks][ranks] rows rank r sends to rank q in the dispatch (padded: whole capacity buffers).
  std::vector<std::vector<std::int64_t>> dispatch_rows() const;
};

// The tokens' choices, before any capacity: [ranks][tokens][k] expert ids, first choice first.
// Drawn once, they can be kept under several capacities (compare-routing's variants of one k).
struct TokenChoices {
  TokenChoiceSetup shape;  // capacity unused
  std::vector<std::uint32_t> expert;
};

TokenChoices draw_token_choices(const std::vector<double>& shares, const TokenChoiceSetup& shape, RandomStream& rng);
// Applies `capacity` (0: dropless) to drawn choices, GShard's priority order.
TokenChoiceLayer keep_within_capacity(const TokenChoices& choices, std::int64_t capacity);
// Both at once, with shape.capacity.
TokenChoiceLayer route_token_choice(const std::vector<double>& shares, const TokenChoiceSetup& shape,
                                    RandomStream& rng);

}  // namespace ecsim
