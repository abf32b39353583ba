// One block's training step, predicted and measured: the forward and backward operators of each
// block that ran (matched pairs from validation.hpp), plus the block's share of the optimizer step
// by parameter count, averaged over the blocks of one kind (dense or MoE). This is the figure
// a per-block benchmark reports (ANCHORS.md's "EC-DiT-shaped block, one training step" in PyTorch:
// the block's forward, backward and fused AdamW over its parameters).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_input.hpp"
#include "model/model_ops.hpp"
#include "model/model_spec.hpp"

namespace ecsim {

// An operator that was both predicted and measured.
struct MatchedOp {
  std::int64_t layer = -1;  // -1: embedding, optimizer; L: final layer and loss
  std::string phase;        // "forward", "backward", "recompute", "optimizer"
  double predicted_s = 0;
  double measured_s = 0;
};

struct BlockTime {
  std::string kind;          // "dense block", "MoE block"
  std::int64_t blocks = 0;   // blocks of this kind that ran
  double param_share = 0;    // one block's fraction of the parameters the optimizer steps
  double predicted_forward_s = 0, measured_forward_s = 0;
  double predicted_step_s = 0, measured_step_s = 0;  // forward + backward + optimizer share
  double error() const { return predicted_step_s / measured_step_s - 1; }
};

// `m` with the layer count that ran, all of it on one pipeline stage (the optimizer steps every
// block), `ctx` one rank's micro-batch (its experts set the parameter shares); block kinds in order
// dense, MoE, each present only if it ran.
std::vector<BlockTime> block_times(const std::vector<MatchedOp>& ops, const ModelSpec& m, const OpContext& ctx);
Json block_times_to_json(const std::vector<BlockTime>& blocks);

}  // namespace ecsim
