#include "runner/expert_parallel.hpp"

#include <string>

#include "precondition.hpp"

namespace ecsim::runner {
namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

// Appends [offset, offset + count), merged into the last range when it continues it with the same kind.
void append(std::vector<GradRange>& out, std::int64_t offset, std::int64_t count, GradReduce reduce) {
  if (count == 0) return;
  if (!out.empty() && out.back().reduce == reduce && out.back().offset + out.back().count == offset) {
    out.back().count += count;
    return;
  }
  out.push_back({offset, count, reduce});
}

}  // namespace

RankGroups rank_groups(const LayoutPlan& plan, int rank) {
  const Layout& l = plan.layout;
  require(rank >= 0 && rank < plan.gpus, "rank_groups: rank " + str(rank) + " outside [0, " + str(plan.gpus) + ")");
  require(l.ep >= 1 && l.dp % l.ep == 0, "rank_groups: ep " + str(l.ep) + " does not divide dp " + str(l.dp));
  const std::int64_t tp_i = rank % l.tp, dp_i = (rank / l.tp) % l.dp, pp_i = rank / (l.tp * l.dp);
  auto global = [&](std::int64_t dp_index) { return static_cast<int>((pp_i * l.dp + dp_index) * l.tp + tp_i); };
  RankGroups g;
  // plan_layout's ep_group: ep consecutive data-parallel ranks (stride tp in global ranks).
  for (std::int64_t j = 0; j < l.ep; ++j) g.ep.push_back(global(dp_i / l.ep * l.ep + j));
  g.ep_rank = static_cast<int>(dp_i % l.ep);
  // Its expert_dp_group: the dp / ep ranks at the same EP position of every EP group (stride tp ep).
  for (std::int64_t k = 0; k < l.dp / l.ep; ++k) g.expert_dp.push_back(global(dp_i % l.ep + k * l.ep));
  return g;
}

ExpertShard expert_shard(std::int64_t experts, std::int64_t ep, int ep_rank) {
  require(ep >= 1 && ep_rank >= 0 && ep_rank < ep, "expert_shard: EP rank " + str(ep_rank) + " of " + str(ep));
  require(experts % ep == 0, "expert_shard: ep " + str(ep) + " does not divide " + str(experts) + " experts");
  const std::int64_t local = experts / ep;
  return {ep, ep_rank * local, local};
}

const char* grad_reduce_name(GradReduce r) {
  switch (r) {
    case GradReduce::kAllRanks: return "all ranks";
    case GradReduce::kExpertDataParallel: return "expert-DP group";
  }
  return "?";
}

std::vector<GradRange> grad_sync_plan(const model_ref::ParamLayout& layout, const ExpertShard& shard) {
  for (const model_ref::BlockRefs& b : layout.blocks) {
    require(!b.moe || (b.moe_ffn.experts.experts == shard.count && b.moe_ffn.experts.first == shard.first),
            "grad_sync_plan: a layout storing experts [" + str(b.moe_ffn.experts.first) + ", " +
                str(b.moe_ffn.experts.first + b.moe_ffn.experts.experts) + ") for a shard of [" + str(shard.first) +
                ", " + str(shard.first + shard.count) + ")");
  }
  const GradReduce experts = shard.ep > 1 ? GradReduce::kExpertDataParallel : GradReduce::kAllRanks;
  std::vector<GradRange> out;
  for (const model_ref::NamedTensor& t : layout.tensors) {
    append(out, t.ref.offset, t.ref.size, t.experts > 0 ? experts : GradReduce::kAllRanks);
  }
  return out;
}

}  // namespace ecsim::runner
