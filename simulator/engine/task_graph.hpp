// The work of one step as a dependency graph of tasks on ranks and streams. Each simulated rank
// has a compute stream and communication streams; a stream runs its tasks in the order they were
// added (like a CUDA stream), a task starts once its dependencies have finished.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "comm/collective.hpp"
#include "model/op.hpp"

namespace ecsim {

// kDp carries gradient reductions, kDpGather parameter gathers (FSDP keeps them on separate
// streams so that prefetching is not stuck behind reductions).
enum class StreamKind : int { kCompute = 0, kTp = 1, kEp = 2, kDp = 3, kPp = 4, kDpGather = 5 };
constexpr int kStreamCount = 6;
const char* stream_name(StreamKind s);

enum class TaskPhase { kForward, kBackward, kRecompute, kGradSync, kParamGather, kOptimizer, kPipeline };
const char* phase_name(TaskPhase p);

using TaskId = std::int32_t;

struct Task {
  std::int32_t rank = 0;  // index of the simulated rank
  StreamKind stream = StreamKind::kCompute;
  TaskPhase phase = TaskPhase::kForward;
  bool is_comm = false;
  Nanos duration;              // compute tasks
  Nanos lead_in;               // compute tasks: the stream idles this long before the task starts
                               // (ComputeCostModel::launch_gap, the GPU's gap between timed ops)
  // Compute tasks: the host's time to issue the task (ComputeCostModel::host_forward...). Each
  // rank's host issues its compute tasks one after another, in stream order, from the step's
  // start; a task starts no earlier than its issue begins and ends no earlier than it ends
  // (event_engine.hpp). Zero: the host is never behind.
  Nanos host;
  bool host_waits = false;     // the host waits for the task to finish before issuing the next
                               // (dropless routing copies its row counts to the host)
  std::int32_t plan = -1;      // comm tasks: index into TaskGraph::plans
  std::int32_t op = -1;        // compute tasks from a model operator: index into TaskGraph::ops
  std::string name;            // kernel family or collective ("gemm", "all_to_all", "adamw")
  std::string label;           // "moe.expert_fc1", "ep.dispatch", ...
  std::int32_t layer = -1;
  std::int32_t micro_batch = -1;
  std::int32_t chunk = 0;
  Flops flops;
  Bytes bytes;                 // memory traffic (compute) or bytes sent (comm)
  std::vector<TaskId> deps;
};

struct TaskGraph {
  std::vector<Task> tasks;
  std::vector<Op> ops;                 // operators referenced by compute tasks
  std::vector<CollectivePlan> plans;   // collectives referenced by comm tasks
  std::vector<std::int64_t> rank_ids;  // global rank id of each simulated rank
  std::vector<std::int64_t> rank_stage;  // pipeline stage of each simulated rank

  TaskId add(Task t);
  std::int32_t ranks() const { return static_cast<std::int32_t>(rank_ids.size()); }
};

}  // namespace ecsim
