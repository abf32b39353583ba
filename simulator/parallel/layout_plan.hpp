// A layout checked against a model, a cluster and a run: the degrees, the micro-batch count, and
// where each communicator's ranks sit. Impossible layouts are InputErrors that say which
// constraint failed ("scenario.json: /layout/ep: 48 does not divide 64 experts").
#pragma once

#include <cstdint>
#include <string>

#include "comm/collective.hpp"
#include "scenario/scenario.hpp"

namespace ecsim {

struct LayoutPlan {
  Layout layout;                   // with dp resolved
  std::int64_t gpus = 0;
  std::int64_t micro_batches = 1;  // per data-parallel rank per step
  std::int64_t layers_per_chunk = 0;  // blocks per virtual pipeline stage
  std::int64_t tokens_per_micro_batch = 0;  // on one rank (before TP splits anything)
  bool training = true;
  // Communicators, as placed by Megatron's rank order (tp fastest, then dp, then pp).
  CommGroup tp_group, dp_group, ep_group, expert_dp_group, pp_group;
};

// `layout_source` names where the layout came from for messages: the scenario file and its
// "/layout" path, or "--layout".
LayoutPlan plan_layout(const Scenario& s, const Layout& layout, const std::string& layout_source);
// Uses the scenario's layout (an InputError if it has none and no --layout was given).
LayoutPlan plan_layout(const Scenario& s);

}  // namespace ecsim
