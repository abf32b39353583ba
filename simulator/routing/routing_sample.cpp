#include "routing/routing_sample.hpp"

#include "parallel/stage_ops.hpp"

namespace ecsim {

std::vector<Op> routed_block_ops(const ModelSpec& m, const LayoutPlan& p, std::int64_t layer,
                                 const LayerRouting& routing) {
  OpContext ctx = rank_context(p);
  ctx.expert_rows = routing.expert_rows;
  return block_ops(m, layer, ctx);
}

}  // namespace ecsim
