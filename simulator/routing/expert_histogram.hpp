// Measured per-expert token loads (schema "ecsim.expert_histogram/1"): one row per measurement,
// a measurement being the tokens each expert received in one MoE layer in one step, as a runner
// counts them. The routing sampler draws rows from it instead of from a parametric distribution.
//
//   {"schema": "ecsim.expert_histogram/1", "experts": 32, "source": "...",
//    "loads": [[130, 97, 121, ...], ...]}
//
// Strict: each row has `experts` whole, non-negative counts and at least one token; errors name the
// file and the JSON path (`hist.json: /loads/3: has 31 counts for 32 experts`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json_input.hpp"

namespace ecsim {

constexpr const char* kExpertHistogramSchema = "ecsim.expert_histogram/1";

struct ExpertHistogram {
  std::filesystem::path file;  // where it was read, for messages and the echo
  std::string path;            // its JSON pointer in that file ("" at the root of its own file)
  std::int64_t experts = 0;
  std::string source;          // free text: what was measured, how
  std::vector<std::vector<double>> loads;  // [measurements][experts] token counts
};

// The histogram object at `node` (inline, or a file name resolved relative to the referring file).
ExpertHistogram parse_expert_histogram(const Node& node);

}  // namespace ecsim
