#include "engine/critical_path.hpp"

#include <algorithm>

#include <boost/graph/adjacency_list.hpp>

namespace ecsim {
namespace {

using Dag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

// Dependency edges plus stream order: on a stream, a task also waits for the one before it.
Dag build_dag(const TaskGraph& g) {
  Dag dag(g.tasks.size());
  std::vector<TaskId> last_on_stream(static_cast<std::size_t>(g.ranks()) * kStreamCount, -1);
  for (std::size_t t = 0; t < g.tasks.size(); ++t) {
    const Task& task = g.tasks[t];
    for (TaskId d : task.deps) boost::add_edge(static_cast<std::size_t>(d), t, dag);
    auto& last = last_on_stream[static_cast<std::size_t>(task.rank) * kStreamCount + static_cast<std::size_t>(task.stream)];
    if (last >= 0) boost::add_edge(static_cast<std::size_t>(last), t, dag);
    last = static_cast<TaskId>(t);
  }
  return dag;
}

std::vector<TaskId> binding_in(const Dag& dag, const TaskGraph& g, const EngineResult& r) {
  std::vector<TaskId> binding(g.tasks.size(), -1);
  for (std::size_t t = 0; t < g.tasks.size(); ++t) {
    Nanos best{-1};
    for (auto [e, end] = boost::in_edges(t, dag); e != end; ++e) {
      const auto u = boost::source(*e, dag);
      // Latest finish among the predecessors; ties go to the lower id (deterministic).
      if (r.timing[u].finish > best || (r.timing[u].finish == best && static_cast<TaskId>(u) < binding[t])) {
        best = r.timing[u].finish;
        binding[t] = static_cast<TaskId>(u);
      }
    }
  }
  return binding;
}

}  // namespace

std::vector<TaskId> binding_predecessors(const TaskGraph& g, const EngineResult& r) {
  return binding_in(build_dag(g), g, r);
}

std::vector<TaskId> critical_path(const EngineResult& r, const std::vector<TaskId>& binding) {
  if (r.timing.empty()) return {};
  TaskId last = 0;
  for (std::size_t t = 0; t < r.timing.size(); ++t) {
    if (r.timing[t].finish > r.timing[static_cast<std::size_t>(last)].finish) last = static_cast<TaskId>(t);
  }
  std::vector<TaskId> path;
  for (TaskId t = last; t >= 0; t = binding[static_cast<std::size_t>(t)]) path.push_back(t);
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace ecsim
