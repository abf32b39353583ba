// Times the planned NCCL collectives (collective_sweep.hpp) over the visible GPUs, in one process:
// for each rank count n, ncclCommInitAll over the first n devices, one stream per device, and every
// rank's part of one collective issued between ncclGroupStart and ncclGroupEnd (all-to-all as an
// ncclSend and an ncclRecv to every peer, itself included, as nccl-tests does). The loop of
// timing.hpp times it on the first device's stream, after all devices have synchronized: warm-up
// apart, a pair of CUDA events around each collective, p10 / median / p90. One send and one
// receive buffer per device, sized for the largest entry and reused (the traffic is NVLink-bound;
// nccl-tests reuses its buffers too); send buffers hold random fp32 (never zeros).
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "profiler/collective_sweep.hpp"
#include "profiler/timing.hpp"

namespace ecsim::profiler {

struct MeasuredCollective {
  PlannedCollective call;
  Timing timing;
};

struct CollectiveSweepResult {
  std::vector<MeasuredCollective> measured;
  std::size_t not_started = 0;  // left out once `out_of_time` said so
  std::string failure;          // the entry and the CUDA or NCCL error that stopped the sweep; empty: none
};

// "NCCL 2.28.9" (the library loaded, not the header).
std::string nccl_version();

// Never throws a CUDA or NCCL error: the first one stops the sweep and is returned in `failure`,
// with what was measured before it. `out_of_time` is asked before each entry. Progress goes to `log`.
CollectiveSweepResult measure_collectives(const std::vector<PlannedCollective>& plan, const TimingMethod& method,
                                          const std::function<bool()>& out_of_time, std::ostream& log);

}  // namespace ecsim::profiler
