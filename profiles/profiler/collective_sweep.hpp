// The NCCL collectives ecsim-profile times when two or more GPUs are visible, decided on the CPU so
// that `--list` prints them without a GPU and tests/kernels/profiler_plan_test.cpp checks them:
// all-reduce, all-gather, reduce-scatter and all-to-all, for each power of two of ranks from 2 to
// the GPUs visible (the first n devices), over per-rank buffers ("bytes", nccl-tests' "size":
// all-reduce the tensor, all-gather the output, reduce-scatter the input, all-to-all what a rank
// sends in all) of 8 KiB and 64 KiB (latency) and 1 MiB..1 GiB in powers of 4 (bandwidth).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "comm/collective.hpp"
#include "hardware/cluster.hpp"
#include "profiler/sweeps.hpp"

namespace ecsim::profiler {

struct PlannedCollective {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  std::int64_t ranks = 0;
  std::int64_t bytes = 0;   // per rank, nccl-tests' "size"
  double predicted_ns = 0;  // the simulator's model on the planning cluster (0: more ranks than its node)
};

// The element type each collective moves in training, and the one it is timed in: the sums
// (all-reduce, reduce-scatter) are the gradient sync, in fp32 (the simulator's default grad_dtype,
// the runner's gradient all-reduce); all-gather and all-to-all move bf16 weights and tokens.
const char* collective_dtype(CollectiveKind kind);
std::size_t collective_dtype_bytes(CollectiveKind kind);

// Per-rank buffer sizes: full 8 KiB, 64 KiB, 1 MiB..1 GiB in powers of 4; quick 64 KiB, 1 MiB,
// 16 MiB, 256 MiB (bandwidth-bound already, at a quarter of the full sweep's largest buffers);
// none above `max_bytes` (--collective-max-mib).
std::vector<std::int64_t> collective_sizes(SweepSize size, std::int64_t max_bytes);
// 2, 4, 8, ... up to `devices`; empty below two devices.
std::vector<std::int64_t> collective_rank_counts(int devices);

// The collectives measured, by name ("all_reduce", ...), as --family names them.
std::vector<std::string> measured_collective_names();

// Ordered by rank count (one communicator at a time), then collective, then size. `selected`
// filters by collective name ("all_reduce", ...), as --family does for kernels.
std::vector<PlannedCollective> plan_collectives(int devices, SweepSize size, std::int64_t max_bytes,
                                                const ClusterSpec& cluster, const FamilyFilter& selected);

}  // namespace ecsim::profiler
