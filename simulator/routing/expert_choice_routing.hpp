// Expert-choice routing (EC-DiT, Zhou et al. 2022) of one routing group: every expert takes the C
// tokens of the group with the highest affinity to it, so each expert does exactly C tokens and a
// token is taken by anywhere from 0 to E experts.
//
// Affinities come from the same router model as token choice (token_choice_routing.hpp): token t's
// logits are log(share_e) + Gumbel noise, and its affinity is their softmax over the experts. A
// token whose logits single out one expert has a low affinity to all others, so skewed shares
// leave more tokens with no expert at all; the experts' work does not change.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/random_stream.hpp"

namespace ecsim {

struct ExpertChoiceGroup {
  std::int64_t group_tokens = 0;  // G
  std::int64_t capacity = 0;      // C
  std::vector<std::int64_t> per_expert;         // [E] tokens each expert took (C each)
  std::vector<std::int64_t> experts_per_token;  // [E + 1] tokens taken by 0..E experts
};

ExpertChoiceGroup route_expert_choice_group(const std::vector<double>& shares, std::int64_t group_tokens,
                                            std::int64_t capacity, RandomStream& rng);

}  // namespace ecsim
