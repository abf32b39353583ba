// The discrete-event engine: runs a task graph in integer nanoseconds. Events are ordered by
// (time, insertion sequence), so the same graph always gives the same schedule. Compute tasks
// hold their stream for their duration; a communication task waits its latency, then moves its
// phases' bytes through its rank's port of each tier, sharing that port's bandwidth fairly with
// every other transfer active on it at the same time.
// The host lane: each rank's host issues its compute tasks in stream order, each taking the task's
// `host` time from the end of the previous one's (or, after a task with `host_waits`, from its
// finish). A compute task starts at the later of its stream's readiness (after the launch gap)
// and its issue's start, and finishes no earlier than its issue's end: where the host is slower
// than the GPU, the GPU waits for its launches, and the task's timing says how long (host_wait).
#pragma once

#include <vector>

#include "engine/task_graph.hpp"

namespace ecsim {

struct TaskTiming {
  Nanos start;
  Nanos finish;
  // Compute tasks: how long the stream held the task waiting for the host, before its kernels
  // could start (inside start - the stream's readiness) and after they finished (inside finish -
  // start).
  Nanos host_wait_before;
  Nanos host_wait_after;
  Nanos issue;  // compute tasks: when the host began to issue it (it ends Task::host later)
  Nanos host_wait() const { return host_wait_before + host_wait_after; }
};

struct EngineResult {
  std::vector<TaskTiming> timing;  // per task
  Nanos makespan;
  std::int64_t events = 0;         // events processed (for the benchmark)
};

EngineResult run_engine(const TaskGraph& graph);

}  // namespace ecsim
