// One sampled step's routing, as the step builder takes it: per MoE layer, the tokens each local
// expert of the simulated rank computes and the plan of that layer's all-to-alls. Layers not in
// the sample keep the deterministic (uniform-load) estimate.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "comm/collective.hpp"
#include "model/model_ops.hpp"
#include "parallel/layout_plan.hpp"

namespace ecsim {

struct LayerRouting {
  // Tokens per local expert on the simulated rank (OpContext.expert_rows); empty: uniform.
  std::vector<std::int64_t> expert_rows;
  // Dispatch and combine, forward and backward: the busiest rank's per-peer sizes set the time of
  // the whole exchange (plan_alltoallv over the traffic matrix), and the transpose of the
  // dispatch matrix (the combine) has the same busiest send-or-receive total.
  std::optional<CollectivePlan> all_to_all;
  Bytes all_to_all_bytes;  // the busiest rank's larger of send and receive (the task's size)
};

using RoutingSample = std::map<std::int64_t, LayerRouting>;  // by block index

// The operators of block `layer` on a rank of `p` that routes as `routing` says.
std::vector<Op> routed_block_ops(const ModelSpec& m, const LayoutPlan& p, std::int64_t layer,
                                 const LayerRouting& routing);

}  // namespace ecsim
