#include "engine/task_graph.hpp"

#include "core/errors.hpp"

namespace ecsim {

const char* stream_name(StreamKind s) {
  switch (s) {
    case StreamKind::kCompute: return "compute";
    case StreamKind::kTp: return "tp";
    case StreamKind::kEp: return "ep";
    case StreamKind::kDp: return "dp";
    case StreamKind::kPp: return "pp";
    case StreamKind::kDpGather: return "dp_gather";
  }
  return "compute";
}

const char* phase_name(TaskPhase p) {
  switch (p) {
    case TaskPhase::kForward: return "forward";
    case TaskPhase::kBackward: return "backward";
    case TaskPhase::kRecompute: return "recompute";
    case TaskPhase::kGradSync: return "grad_sync";
    case TaskPhase::kParamGather: return "param_gather";
    case TaskPhase::kOptimizer: return "optimizer";
    case TaskPhase::kPipeline: return "pipeline";
  }
  return "forward";
}

TaskId TaskGraph::add(Task t) {
  const auto id = static_cast<TaskId>(tasks.size());
  for (TaskId d : t.deps) {
    if (d < 0 || d >= id) throw RuntimeFailure("task graph: dependency " + std::to_string(d) + " of task " +
                                               std::to_string(id) + " is not an earlier task");
  }
  tasks.push_back(std::move(t));
  return id;
}

}  // namespace ecsim
