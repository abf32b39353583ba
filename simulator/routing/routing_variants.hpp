// The routings `ecsim compare-routing` weighs against each other, at equal activated compute:
// expert choice with f_c = k gives each token k experts on average (E*C/G = f_c), as top-k token
// choice does, so EC f_c=1 stands against top-1 and EC f_c=2 against top-2 (EC-DiT's own
// setting against GShard top-2). Each token-choice router comes with capacity factors 1.0, 1.25
// and 2.0 (padded capacity buffers, excess dropped) and dropless.
#pragma once

#include <string>
#include <vector>

#include "model/model_spec.hpp"

namespace ecsim {

struct ComparedRouting {
  std::string name;     // "ec-fc2", "tc-top2-cf1.25", "tc-top2-dropless"
  std::string label;    // for the table: "EC f_c=2 (= top-2)", "TC top-2 cf 1.25", ...
  RoutingSpec routing;
};

// Variants for a model (its experts and its expert-choice group size) whose micro-batch holds
// `tokens_per_micro_batch` tokens on one rank: expert choice keeps the model's group size G when
// the model routes by expert choice and G divides the micro-batch, else groups of 1024 tokens,
// or the whole micro-batch when 1024 does not divide it.
std::vector<ComparedRouting> routing_variants(const ModelSpec& m, std::int64_t tokens_per_micro_batch);

}  // namespace ecsim
