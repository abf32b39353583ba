#include "engine/event_engine.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <queue>

#include "core/errors.hpp"

namespace ecsim {
namespace {

enum class EventType { kComputeDone, kLatencyDone, kPhaseDone };

struct Event {
  std::int64_t time;
  std::int64_t seq;
  EventType type;
  std::int64_t id;  // task (compute, latency) or flow (phase)
  std::int64_t version;
  bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

// One phase of a communication task in flight on one port.
struct Flow {
  TaskId task = -1;
  std::size_t phase = 0;
  double remaining = 0;     // bytes left
  double rate = 0;          // bytes per nanosecond at the current share
  std::int64_t last = 0;    // when `remaining` was last brought up to date
  std::int64_t version = 0; // bumps on every re-rating; older completion events are stale
};

struct StreamState {
  std::vector<TaskId> queue;  // in issue order
  std::size_t head = 0;
  bool busy = false;
};

class Engine {
 public:
  explicit Engine(const TaskGraph& g)
      : g_(g),
        timing_(g.tasks.size()),
        waiting_(g.tasks.size()),
        dependents_(g.tasks.size()),
        flow_offset_(g.tasks.size() + 1, 0),
        stage_pending_(g.tasks.size(), 0),
        stage_end_(g.tasks.size(), 0),
        streams_(static_cast<std::size_t>(g.ranks()) * kStreamCount),
        host_free_(static_cast<std::size_t>(g.ranks()), 0),
        ports_(static_cast<std::size_t>(g.ranks()) * kTierCount),
        done_(g.tasks.size(), false) {
    for (std::size_t t = 0; t < g.tasks.size(); ++t) {
      const Task& task = g.tasks[t];
      const std::size_t phases = task.is_comm ? g.plans[static_cast<std::size_t>(task.plan)].phases.size() : 0;
      flow_offset_[t + 1] = flow_offset_[t] + phases;
    }
    flows_.resize(flow_offset_.back());
    for (std::size_t t = 0; t < g.tasks.size(); ++t) {
      const Task& task = g.tasks[t];
      waiting_[t] = static_cast<std::int32_t>(task.deps.size());
      for (TaskId d : task.deps) dependents_[static_cast<std::size_t>(d)].push_back(static_cast<TaskId>(t));
      stream(task).queue.push_back(static_cast<TaskId>(t));
    }
  }

  EngineResult run() {
    for (auto& s : streams_) try_start(s);
    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      assert(e.time >= now_ && "simulated time never moves back");
      if (e.time < now_) throw RuntimeFailure("event engine: time moved back");
      now_ = e.time;
      ++processed_;
      switch (e.type) {
        case EventType::kComputeDone: finish(static_cast<TaskId>(e.id)); break;
        case EventType::kLatencyDone: begin_stage(static_cast<TaskId>(e.id), 0); break;
        case EventType::kPhaseDone:
          if (e.version == flows_[static_cast<std::size_t>(e.id)].version) end_flow(static_cast<std::size_t>(e.id));
          break;
      }
    }
    EngineResult r;
    for (std::size_t t = 0; t < g_.tasks.size(); ++t) {
      if (!done_[t]) {
        const Task& task = g_.tasks[t];
        throw RuntimeFailure("event engine: task " + std::to_string(t) + " (" + task.label + " on rank " +
                             std::to_string(task.rank) + ", stream " + stream_name(task.stream) +
                             ") never ran: the graph's stream order contradicts its dependencies");
      }
      r.makespan = std::max(r.makespan, timing_[t].finish);
    }
    r.timing = std::move(timing_);
    r.events = processed_;
    return r;
  }

 private:
  StreamState& stream(const Task& t) {
    return streams_[static_cast<std::size_t>(t.rank) * kStreamCount + static_cast<std::size_t>(t.stream)];
  }
  std::vector<std::size_t>& port(const Task& t, Tier tier) {
    return ports_[static_cast<std::size_t>(t.rank) * kTierCount + static_cast<std::size_t>(tier)];
  }
  void push(std::int64_t time, EventType type, std::int64_t id, std::int64_t version = 0) {
    events_.push(Event{time, seq_++, type, id, version});
  }
  const CommPhase& phase_of(const Flow& f) const {
    return g_.plans[static_cast<std::size_t>(g_.tasks[static_cast<std::size_t>(f.task)].plan)].phases[f.phase];
  }

  void try_start(StreamState& s) {
    if (s.busy || s.head >= s.queue.size()) return;
    const TaskId t = s.queue[s.head];
    if (waiting_[static_cast<std::size_t>(t)] > 0) return;
    ++s.head;
    s.busy = true;
    start(t);
  }

  void start(TaskId t) {
    const Task& task = g_.tasks[static_cast<std::size_t>(t)];
    if (!task.is_comm) {
      // The stream is taken from now; the kernels start after the launch gap, and not before the
      // host begins to issue them; the task ends no earlier than the host has issued it all.
      std::int64_t& host = host_free_[static_cast<std::size_t>(task.rank)];
      const std::int64_t issue = host;
      host += task.host.value;
      const std::int64_t ready = now_ + task.lead_in.value;
      const std::int64_t begin = std::max(ready, issue);
      const std::int64_t end = std::max(begin + task.duration.value, host);
      TaskTiming& tt = timing_[static_cast<std::size_t>(t)];
      tt.start = Nanos{begin};
      tt.issue = Nanos{issue};
      tt.host_wait_before = Nanos{begin - ready};
      tt.host_wait_after = Nanos{end - begin - task.duration.value};
      push(end, EventType::kComputeDone, t);
      return;
    }
    timing_[static_cast<std::size_t>(t)].start = Nanos{now_};
    const CollectivePlan& plan = g_.plans[static_cast<std::size_t>(task.plan)];
    push(now_ + to_nanos(plan.latency).value, EventType::kLatencyDone, t);
  }

  // A stage is a phase and the phases after it that overlap it (marked overlaps_previous): they
  // run together, each on its own port, and the stage ends when the last of them does.
  void begin_stage(TaskId t, std::size_t first) {
    const Task& task = g_.tasks[static_cast<std::size_t>(t)];
    const auto& phases = g_.plans[static_cast<std::size_t>(task.plan)].phases;
    if (first >= phases.size()) {
      finish(t);
      return;
    }
    std::size_t end = first + 1;
    while (end < phases.size() && phases[end].overlaps_previous) ++end;
    std::vector<std::vector<std::size_t>*> touched;
    for (std::size_t ph = first; ph < end; ++ph) {
      if (phases[ph].bytes.value <= 0) continue;
      const std::size_t id = flow_offset_[static_cast<std::size_t>(t)] + ph;
      Flow& f = flows_[id];
      f.task = t;
      f.phase = ph;
      f.remaining = phases[ph].bytes.value;
      f.rate = 0;
      f.last = now_;
      auto& members = port(task, phases[ph].tier);
      members.push_back(id);
      touched.push_back(&members);
      ++stage_pending_[static_cast<std::size_t>(t)];
    }
    stage_end_[static_cast<std::size_t>(t)] = end;
    if (stage_pending_[static_cast<std::size_t>(t)] == 0) {
      begin_stage(t, end);  // nothing to move in this stage
      return;
    }
    for (auto* members : touched) rerate(*members);
  }

  void end_flow(std::size_t id) {
    Flow& f = flows_[id];
    const TaskId t = f.task;
    const Task& task = g_.tasks[static_cast<std::size_t>(t)];
    auto& members = port(task, phase_of(f).tier);
    std::erase(members, id);
    rerate(members);
    if (--stage_pending_[static_cast<std::size_t>(t)] == 0) begin_stage(t, stage_end_[static_cast<std::size_t>(t)]);
  }

  // Brings every transfer on a port up to now, then gives each an equal share of its own
  // alone-bandwidth and schedules its completion at that rate.
  void rerate(const std::vector<std::size_t>& members) {
    const double share = 1.0 / static_cast<double>(std::max<std::size_t>(1, members.size()));
    for (std::size_t id : members) {
      Flow& f = flows_[id];
      f.remaining = std::max(0.0, f.remaining - f.rate * static_cast<double>(now_ - f.last));
      f.last = now_;
      const CommPhase& ph = phase_of(f);
      if (ph.bandwidth.value <= 0) {
        throw RuntimeFailure("event engine: " + g_.tasks[static_cast<std::size_t>(f.task)].label +
                             " has a phase with no bandwidth");
      }
      f.rate = ph.bandwidth.value / kNanosPerSecond * share;
      ++f.version;
      const auto left = static_cast<std::int64_t>(std::ceil(f.remaining / f.rate));
      push(now_ + left, EventType::kPhaseDone, static_cast<std::int64_t>(id), f.version);
    }
  }

  void finish(TaskId t) {
    const Task& task = g_.tasks[static_cast<std::size_t>(t)];
    timing_[static_cast<std::size_t>(t)].finish = Nanos{now_};
    done_[static_cast<std::size_t>(t)] = true;
    if (task.host_waits) {
      std::int64_t& host = host_free_[static_cast<std::size_t>(task.rank)];
      host = std::max(host, now_);
    }
    StreamState& own = stream(task);
    own.busy = false;
    for (TaskId d : dependents_[static_cast<std::size_t>(t)]) {
      if (--waiting_[static_cast<std::size_t>(d)] == 0) try_start(stream(g_.tasks[static_cast<std::size_t>(d)]));
    }
    try_start(own);
  }

  const TaskGraph& g_;
  std::vector<TaskTiming> timing_;
  std::vector<std::int32_t> waiting_;
  std::vector<std::vector<TaskId>> dependents_;
  std::vector<std::size_t> flow_offset_;   // flows of task t: [flow_offset_[t], flow_offset_[t+1])
  std::vector<std::int32_t> stage_pending_; // flows of the current stage still moving
  std::vector<std::size_t> stage_end_;      // first phase after the current stage
  std::vector<Flow> flows_;
  std::vector<StreamState> streams_;
  std::vector<std::int64_t> host_free_;    // per rank: when its host has issued all it has so far
  std::vector<std::vector<std::size_t>> ports_;
  std::vector<bool> done_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::int64_t now_ = 0;
  std::int64_t seq_ = 0;
  std::int64_t processed_ = 0;
};

}  // namespace

EngineResult run_engine(const TaskGraph& graph) {
  if (graph.tasks.empty()) return {};
  return Engine(graph).run();
}

}  // namespace ecsim
