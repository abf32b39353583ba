// The discrete-event engine: runs a task graph in integer nanoseconds. Events are ordered by
// (time, insertion sequence), so the same graph always gives the same schedule. Compute tasks
// hold their stream for their duration; a communication task waits its latency, then moves its
// phases' bytes through its rank's port of each tier, sharing that port's bandwidth fairly with
// every other transfer active on it at the same time.
#pragma once

#include <vector>

#include "engine/task_graph.hpp"

namespace ecsim {

struct TaskTiming {
  Nanos start;
  Nanos finish;
};

struct EngineResult {
  std::vector<TaskTiming> timing;  // per task
  Nanos makespan;
  std::int64_t events = 0;         // events processed (for the benchmark)
};

EngineResult run_engine(const TaskGraph& graph);

}  // namespace ecsim
