// What the routing kernels can hold (ec_route.cu, tc_route.cu): their launchers check these, and
// ecsim-run checks a scenario against them before it builds anything (runner/run_config.cpp), so a
// model past them is an input error naming its JSON path. No CUDA here: the CPU side includes it.
#pragma once

#include <cstdint>

namespace ecsim {

// Expert choice: one warp holds a routing group's affinities for an expert in registers (128 per
// lane at most), so a group is at most this many tokens (EC-DiT: 1024 in training, 512 at inference).
constexpr std::int64_t kMaxGroupTokens = 4096;
// Expert choice: the combine keeps a token's slot for every expert in shared memory (4 bytes each).
constexpr std::int64_t kMaxExperts = 4096;
// Token choice: a token picks at most this many experts (k is 1 or 2 in every baseline; 8 in
// fine-grained MoE).
constexpr std::int64_t kMaxTopK = 8;
// Token choice: the offsets scan runs in one block, one expert per thread.
constexpr std::int64_t kMaxTokenChoiceExperts = 1024;

}  // namespace ecsim
