// Expert parallelism in the runner, the CPU half (tests/kernels/runner_plan_test.cpp checks it
// without a GPU): which global ranks a rank exchanges expert rows with, which experts it owns, and
// how each range of the flat gradient buffer is summed across ranks before the optimizer step.
//   - Ranks sit in Megatron order, tp fastest, then dp, then pp (rank = (pp_i dp + dp_i) tp + tp_i),
//     and the groups are the ones plan_layout prices (parallel/layout_plan.cpp): the EP group is ep
//     data-parallel ranks at stride tp, the expert-DP group the dp / ep ranks at stride tp ep that
//     hold the same experts.
//   - EP rank j of its group owns experts [j E/ep, (j+1) E/ep), and its parameter layout stores
//     those alone (param_layout.hpp).
//   - Gradients: every parameter outside the experts is summed over all data-parallel ranks (as
//     with ep = 1); the local experts' over the expert-DP group.
#pragma once

#include <cstdint>
#include <vector>

#include "model_ref/params.hpp"
#include "parallel/layout_plan.hpp"

namespace ecsim::runner {

struct RankGroups {
  std::vector<int> ep;         // global ranks of this rank's EP group; the position is the EP rank
  std::vector<int> expert_dp;  // global ranks that own the same experts (this rank included)
  int ep_rank = 0;             // this rank's position in `ep`
};

// `rank` in [0, plan.gpus).
RankGroups rank_groups(const LayoutPlan& plan, int rank);

// The experts one rank computes: [first, first + count) of the model's `experts`.
struct ExpertShard {
  std::int64_t ep = 1;     // EP degree
  std::int64_t first = 0;
  std::int64_t count = 0;  // experts / ep (0 for a dense model)
};

ExpertShard expert_shard(std::int64_t experts, std::int64_t ep, int ep_rank);

enum class GradReduce {
  kAllRanks,            // summed over all data-parallel ranks
  kExpertDataParallel,  // summed over the expert-DP group
};
const char* grad_reduce_name(GradReduce r);

struct GradRange {
  std::int64_t offset = 0;  // elements into the flat buffer
  std::int64_t count = 0;
  GradReduce reduce = GradReduce::kAllRanks;
  bool operator==(const GradRange&) const = default;
};

// Ranges tiling [0, layout.total) in order, adjacent ranges of one kind merged; `layout` stores
// the shard's experts. With ep = 1 the expert-DP group is every data-parallel rank, so the whole
// buffer is one kAllRanks range. Every rank of a group gets the same ranges (NCCL pairs them).
std::vector<GradRange> grad_sync_plan(const model_ref::ParamLayout& layout, const ExpertShard& shard);

}  // namespace ecsim::runner
