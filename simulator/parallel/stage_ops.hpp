// The operators one rank of a pipeline stage runs for one micro-batch, chunk by chunk
// (a chunk is a virtual stage: its consecutive blocks, plus the embedding on the first and the
// head on the last).
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_ops.hpp"
#include "parallel/layout_plan.hpp"

namespace ecsim {

struct ChunkOps {
  std::int64_t chunk = 0;        // virtual stage index on this rank (0..vpp-1)
  std::int64_t first_layer = 0;  // blocks [first_layer, first_layer + count)
  std::int64_t layer_count = 0;
  std::vector<std::vector<Op>> layers;  // per block (pre ops as a block of layer -1, post as layer L)
};

// OpContext of a rank under this layout (samples = mbs, TP and EP degrees).
OpContext rank_context(const LayoutPlan& p);
// Chunks held by pipeline stage `stage`, in chunk order.
std::vector<ChunkOps> stage_chunks(const ModelSpec& m, const LayoutPlan& p, std::int64_t stage);

}  // namespace ecsim
