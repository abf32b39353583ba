// Pipeline schedules: the order in which one stage runs forward and backward passes of its
// micro-batches. 1F1B (vpp = 1) and Megatron's interleaved 1F1B (vpp virtual stages per rank).
#pragma once

#include <cstdint>
#include <vector>

namespace ecsim {

struct ScheduleItem {
  bool forward = true;
  std::int64_t chunk = 0;        // virtual stage on this rank
  std::int64_t micro_batch = 0;
};

// Training: warm-up forwards, steady one-forward-one-backward, cool-down backwards.
// Inference (`training` false): the forwards alone, in the same order.
std::vector<ScheduleItem> stage_schedule(std::int64_t pp, std::int64_t vpp, std::int64_t micro_batches,
                                         std::int64_t stage, bool training);

}  // namespace ecsim
