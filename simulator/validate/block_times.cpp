#include "validate/block_times.hpp"

#include <map>

namespace ecsim {
namespace {

double params_of(const std::vector<Op>& ops) {
  double p = 0;
  for (const Op& op : ops) p += op.params;
  return p;
}

struct Sums {
  double predicted_forward = 0, measured_forward = 0, predicted = 0, measured = 0;
};

}  // namespace

std::vector<BlockTime> block_times(const std::vector<MatchedOp>& ops, const ModelSpec& m, const OpContext& ctx) {
  std::map<std::int64_t, Sums> layers;
  double predicted_optimizer = 0, measured_optimizer = 0;
  for (const MatchedOp& op : ops) {
    if (op.phase == "optimizer") {
      predicted_optimizer += op.predicted_s;
      measured_optimizer += op.measured_s;
      continue;
    }
    if (op.layer < 0 || op.layer >= m.layers) continue;  // embedding (-1), final layer and loss (L)
    Sums& s = layers[op.layer];
    if (op.phase == "forward") {
      s.predicted_forward += op.predicted_s;
      s.measured_forward += op.measured_s;
    }
    s.predicted += op.predicted_s;
    s.measured += op.measured_s;
  }
  const double total = params_of(model_ops(m, ctx));
  std::vector<BlockTime> out;
  for (const bool moe : {false, true}) {
    BlockTime b;
    b.kind = moe ? "MoE block" : "dense block";
    for (const auto& [layer, s] : layers) {
      if (m.moe.is_moe_layer(layer) != moe) continue;
      const double share = total > 0 ? params_of(block_ops(m, layer, ctx)) / total : 0;
      ++b.blocks;
      b.param_share += share;
      b.predicted_forward_s += s.predicted_forward;
      b.measured_forward_s += s.measured_forward;
      b.predicted_step_s += s.predicted + share * predicted_optimizer;
      b.measured_step_s += s.measured + share * measured_optimizer;
    }
    if (b.blocks == 0) continue;
    const auto n = static_cast<double>(b.blocks);
    b.param_share /= n;
    b.predicted_forward_s /= n;
    b.measured_forward_s /= n;
    b.predicted_step_s /= n;
    b.measured_step_s /= n;
    out.push_back(b);
  }
  return out;
}

Json block_times_to_json(const std::vector<BlockTime>& blocks) {
  Json out = Json::array();
  for (const BlockTime& b : blocks) {
    out.push_back({{"kind", b.kind},
                   {"blocks", b.blocks},
                   {"param_share", b.param_share},
                   {"forward", {{"predicted_s", b.predicted_forward_s}, {"measured_s", b.measured_forward_s}}},
                   {"step", {{"predicted_s", b.predicted_step_s}, {"measured_s", b.measured_step_s},
                             {"error", b.error()}}}});
  }
  return out;
}

}  // namespace ecsim
