// The critical path of a simulated step: the chain of tasks, each started by the finish of the one
// before it (a dependency or the previous task on its stream), that ends with the last task.
// Built on a Boost.Graph DAG of the tasks (dependency and stream-order edges).
#pragma once

#include <vector>

#include "engine/event_engine.hpp"
#include "engine/task_graph.hpp"

namespace ecsim {

// For each task, the predecessor whose finish released it (-1 when it started at time 0).
std::vector<TaskId> binding_predecessors(const TaskGraph& g, const EngineResult& r);

// Task ids from the first to the last-finishing task, in time order, following `binding`.
std::vector<TaskId> critical_path(const EngineResult& r, const std::vector<TaskId>& binding);

}  // namespace ecsim
