#include "engine/pipeline_schedule.hpp"

#include <algorithm>

namespace ecsim {
namespace {

// Megatron's mapping of the k-th forward (or backward) of a stage to its chunk and micro-batch:
// micro-batches go through the chunks in groups of pp.
ScheduleItem item_at(std::int64_t k, bool forward, std::int64_t pp, std::int64_t vpp) {
  const std::int64_t group = k / (pp * vpp);
  const std::int64_t within = k % (pp * vpp);
  std::int64_t chunk = within / pp;
  if (!forward) chunk = vpp - 1 - chunk;
  return {forward, chunk, group * pp + within % pp};
}

}  // namespace

std::vector<ScheduleItem> stage_schedule(std::int64_t pp, std::int64_t vpp, std::int64_t micro_batches,
                                         std::int64_t stage, bool training) {
  const std::int64_t total = micro_batches * vpp;
  std::vector<ScheduleItem> out;
  out.reserve(static_cast<std::size_t>(training ? 2 * total : total));
  if (!training) {
    for (std::int64_t k = 0; k < total; ++k) {
      out.push_back(vpp == 1 ? ScheduleItem{true, 0, k} : item_at(k, true, pp, vpp));
    }
    return out;
  }
  auto fwd = [&](std::int64_t k) { return vpp == 1 ? ScheduleItem{true, 0, k} : item_at(k, true, pp, vpp); };
  auto bwd = [&](std::int64_t k) { return vpp == 1 ? ScheduleItem{false, 0, k} : item_at(k, false, pp, vpp); };
  const std::int64_t warmup =
      std::min(total, vpp == 1 ? pp - stage - 1 : (pp - stage - 1) * 2 + (vpp - 1) * pp);
  std::int64_t f = 0;
  std::int64_t b = 0;
  while (f < warmup) out.push_back(fwd(f++));
  while (f < total) {
    out.push_back(fwd(f++));
    out.push_back(bwd(b++));
  }
  while (b < total) out.push_back(bwd(b++));
  return out;
}

}  // namespace ecsim
