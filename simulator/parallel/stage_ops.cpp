#include "parallel/stage_ops.hpp"

namespace ecsim {

OpContext rank_context(const LayoutPlan& p) {
  OpContext ctx;
  ctx.samples = p.layout.mbs;
  ctx.training = p.training;
  ctx.tp = p.layout.tp;
  ctx.ep = p.layout.ep;
  return ctx;
}

std::vector<ChunkOps> stage_chunks(const ModelSpec& m, const LayoutPlan& p, std::int64_t stage) {
  const OpContext ctx = rank_context(p);
  const std::int64_t pp = p.layout.pp;
  const std::int64_t vpp = p.layout.vpp;
  std::vector<ChunkOps> chunks;
  for (std::int64_t c = 0; c < vpp; ++c) {
    ChunkOps chunk;
    chunk.chunk = c;
    // Interleaved placement: virtual stage c*pp + stage holds the c-th slice of this rank.
    chunk.first_layer = (c * pp + stage) * p.layers_per_chunk;
    chunk.layer_count = p.layers_per_chunk;
    const bool first = c == 0 && stage == 0;
    const bool last = c == vpp - 1 && stage == pp - 1;
    if (first) chunk.layers.push_back(pre_ops(m, ctx));
    for (std::int64_t l = chunk.first_layer; l < chunk.first_layer + chunk.layer_count; ++l) {
      chunk.layers.push_back(block_ops(m, l, ctx));
    }
    if (last) chunk.layers.push_back(post_ops(m, ctx));
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

}  // namespace ecsim
