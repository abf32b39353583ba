// The event engine on small hand-built graphs whose schedules follow from a closed form.
#include <doctest/doctest.h>

#include <map>
#include <tuple>

#include "engine/critical_path.hpp"
#include "engine/event_engine.hpp"
#include "engine/pipeline_schedule.hpp"

using namespace ecsim;

namespace {

TaskId compute(TaskGraph& g, std::int32_t rank, std::int64_t ns, std::vector<TaskId> deps, const char* label = "op") {
  Task t;
  t.rank = rank;
  t.duration = Nanos{ns};
  t.label = label;
  t.name = "gemm";
  t.deps = std::move(deps);
  return g.add(std::move(t));
}

// A transfer of `bytes` at `gbps` GB/s (1 byte per ns per GB/s), `latency_ns` first.
TaskId transfer(TaskGraph& g, std::int32_t rank, StreamKind s, double bytes, double gbps, std::int64_t latency_ns,
                std::vector<TaskId> deps, Tier tier = Tier::kNvlink) {
  CollectivePlan p;
  p.latency = to_seconds(Nanos{latency_ns});
  p.phases.push_back({tier, Bytes{bytes}, BytesPerSecond{gbps * 1e9}});
  g.plans.push_back(p);
  Task t;
  t.rank = rank;
  t.stream = s;
  t.is_comm = true;
  t.plan = static_cast<std::int32_t>(g.plans.size() - 1);
  t.label = "xfer";
  t.deps = std::move(deps);
  return g.add(std::move(t));
}

TaskGraph one_rank() {
  TaskGraph g;
  g.rank_ids = {0};
  g.rank_stage = {0};
  return g;
}

}  // namespace

TEST_CASE("a stream runs its tasks in order, dependencies across streams wait") {
  TaskGraph g = one_rank();
  const TaskId a = compute(g, 0, 10, {});
  const TaskId b = compute(g, 0, 5, {});       // same stream: after a
  const TaskId x = transfer(g, 0, StreamKind::kDp, 1000, 100, 0, {a});  // 1000 B at 100 B/ns = 10 ns
  const TaskId c = compute(g, 0, 1, {x});
  const auto r = run_engine(g);
  CHECK(r.timing[static_cast<std::size_t>(b)].start.value == 10);
  CHECK(r.timing[static_cast<std::size_t>(x)].start.value == 10);
  CHECK(r.timing[static_cast<std::size_t>(x)].finish.value == 20);
  CHECK(r.timing[static_cast<std::size_t>(c)].start.value == 20);
  CHECK(r.makespan.value == 21);
}

TEST_CASE("host lane: short kernels wait for the host's launches, long ones let the host run ahead") {
  // Host 10 ns per task. Kernels of 2 ns: each starts when the host begins issuing it and ends when
  // the host is done (the GPU waits 8 of every 10 ns); the step is the host's 3 x 10 = 30 ns.
  TaskGraph g = one_rank();
  std::vector<TaskId> short_ops;
  for (int i = 0; i < 3; ++i) {
    short_ops.push_back(compute(g, 0, 2, {}));
    g.tasks.back().host = Nanos{10};
  }
  auto r = run_engine(g);
  for (int i = 0; i < 3; ++i) {
    const auto& t = r.timing[static_cast<std::size_t>(short_ops[static_cast<std::size_t>(i)])];
    CHECK(t.start.value == 10 * i);
    CHECK(t.finish.value == 10 * i + 10);
    CHECK(t.host_wait().value == 8);
  }
  CHECK(r.makespan.value == 30);

  // A long kernel (100 ns) first: the host issues the next two while it runs, and they follow it
  // back to back, waiting for nothing.
  TaskGraph h = one_rank();
  const TaskId a = compute(h, 0, 100, {});
  const TaskId b = compute(h, 0, 2, {});
  const TaskId c = compute(h, 0, 2, {});
  for (TaskId t : {a, b, c}) h.tasks[static_cast<std::size_t>(t)].host = Nanos{10};
  r = run_engine(h);
  CHECK(r.timing[static_cast<std::size_t>(a)].finish.value == 100);
  CHECK(r.timing[static_cast<std::size_t>(b)].start.value == 100);
  CHECK(r.timing[static_cast<std::size_t>(c)].start.value == 102);
  CHECK(r.timing[static_cast<std::size_t>(c)].host_wait().value == 0);
  CHECK(r.makespan.value == 104);

  // The same, but the host waits for the long task (a copy to the host inside it): the next two
  // are issued only after it ends, at 100 and 110.
  h.tasks[static_cast<std::size_t>(a)].host_waits = true;
  r = run_engine(h);
  CHECK(r.timing[static_cast<std::size_t>(b)].start.value == 100);
  CHECK(r.timing[static_cast<std::size_t>(b)].finish.value == 110);
  CHECK(r.timing[static_cast<std::size_t>(c)].start.value == 110);
  CHECK(r.makespan.value == 120);

  // The launch gap comes before a kernel whose host is ahead, not on top of the host's wait.
  TaskGraph k = one_rank();
  const TaskId d = compute(k, 0, 50, {});
  const TaskId e = compute(k, 0, 5, {});
  const TaskId f = compute(k, 0, 5, {});
  for (TaskId t : {d, e, f}) {
    k.tasks[static_cast<std::size_t>(t)].host = Nanos{t == d ? 5 : 30};
    k.tasks[static_cast<std::size_t>(t)].lead_in = Nanos{3};
  }
  r = run_engine(k);
  CHECK(r.timing[static_cast<std::size_t>(d)].start.value == 3);   // after the gap; issued at 0
  CHECK(r.timing[static_cast<std::size_t>(e)].start.value == 56);  // issued at 5, ready at 53 + 3
  CHECK(r.timing[static_cast<std::size_t>(e)].finish.value == 61);
  CHECK(r.timing[static_cast<std::size_t>(f)].start.value == 64);  // ready at 61 + 3; issued at 35
  CHECK(r.timing[static_cast<std::size_t>(f)].finish.value == 69);  // its issue ended at 65
}

TEST_CASE("critical path of a known graph: A(10) -> {B(5), C(20)} -> D(1) is A, C, D = 31 ns") {
  TaskGraph g;
  g.rank_ids = {0, 1};
  g.rank_stage = {0, 1};
  const TaskId a = compute(g, 0, 10, {}, "A");
  const TaskId b = compute(g, 0, 5, {a}, "B");
  const TaskId c = compute(g, 1, 20, {a}, "C");
  const TaskId d = compute(g, 0, 1, {b, c}, "D");
  const auto r = run_engine(g);
  CHECK(r.makespan.value == 31);
  const auto path = critical_path(r, binding_predecessors(g, r));
  CHECK(path == std::vector<TaskId>{a, c, d});
}

TEST_CASE("overlap: a transfer shorter than the compute hides completely, a longer one is exposed") {
  for (const double bytes : {5000.0, 15000.0}) {
    TaskGraph g = one_rank();
    compute(g, 0, 100, {});
    transfer(g, 0, StreamKind::kDp, bytes, 100, 0, {});  // 50 ns or 150 ns at 100 B/ns
    const auto r = run_engine(g);
    const std::int64_t expected = bytes < 10000 ? 100 : 150;
    MESSAGE("transfer of " << bytes << " B beside 100 ns of compute: step " << r.makespan.value << " ns, expected "
                           << expected);
    CHECK(r.makespan.value == expected);
  }
}

TEST_CASE("transfers on one port share its bandwidth fairly, on different tiers they do not") {
  TaskGraph g = one_rank();
  const TaskId x = transfer(g, 0, StreamKind::kDp, 1000, 100, 0, {});
  const TaskId y = transfer(g, 0, StreamKind::kEp, 1000, 100, 0, {});
  const auto r = run_engine(g);
  // Together: 2000 B at 100 B/ns = 20 ns, both finish at 20 (each alone would take 10).
  CHECK(r.timing[static_cast<std::size_t>(x)].finish.value == 20);
  CHECK(r.timing[static_cast<std::size_t>(y)].finish.value == 20);

  TaskGraph h = one_rank();
  transfer(h, 0, StreamKind::kDp, 1000, 100, 0, {}, Tier::kNvlink);
  transfer(h, 0, StreamKind::kEp, 1000, 100, 0, {}, Tier::kNetwork);
  CHECK(run_engine(h).makespan.value == 10);
}

TEST_CASE("a share changes when a transfer joins halfway") {
  TaskGraph g = one_rank();
  const TaskId gate = compute(g, 0, 5, {});
  const TaskId x = transfer(g, 0, StreamKind::kDp, 1000, 100, 0, {});      // alone for 5 ns: 500 B left
  const TaskId y = transfer(g, 0, StreamKind::kEp, 1000, 100, 0, {gate});  // from 5 ns on, both at 50 B/ns
  const auto r = run_engine(g);
  CHECK(r.timing[static_cast<std::size_t>(x)].finish.value == 15);  // 500 B at 50 B/ns
  CHECK(r.timing[static_cast<std::size_t>(y)].finish.value == 20);  // 500 B shared, 500 B alone
}

TEST_CASE("overlapping phases run together on their own ports, the stage ends with the slower") {
  // NVLink phase 1000 B at 100 B/ns (10 ns) overlapped by a network phase 300 B at 10 B/ns (30 ns),
  // then a second NVLink stage of 500 B (5 ns): 30 + 5 = 35 ns.
  TaskGraph g = one_rank();
  CollectivePlan p;
  p.phases.push_back({Tier::kNvlink, Bytes{1000}, BytesPerSecond{100e9}});
  p.phases.push_back({Tier::kNetwork, Bytes{300}, BytesPerSecond{10e9}, true});
  p.phases.push_back({Tier::kNvlink, Bytes{500}, BytesPerSecond{100e9}});
  g.plans.push_back(p);
  Task t;
  t.is_comm = true;
  t.stream = StreamKind::kDp;
  t.plan = 0;
  g.add(t);
  // A second transfer on NVLink alone shares the port only during the first 20 ns it is active.
  transfer(g, 0, StreamKind::kEp, 1000, 100, 0, {});
  const auto r = run_engine(g);
  CHECK(p.time_alone().value == doctest::Approx(35e-9));
  // Both NVLink transfers share 100 B/ns: 2000 B take 20 ns; the network phase ends at 30 ns,
  // then 500 B alone: 35 ns.
  CHECK(r.timing[0].finish.value == 35);
  CHECK(r.timing[1].finish.value == 20);
}

TEST_CASE("latency comes before the bytes") {
  TaskGraph g = one_rank();
  transfer(g, 0, StreamKind::kDp, 1000, 100, 7, {});
  CHECK(run_engine(g).makespan.value == 17);
}

TEST_CASE("1F1B: step = (m + p - 1) (t_f + t_b) and bubble (p - 1) / (m + p - 1) for equal stages") {
  // Each stage's forward takes t_f, backward t_b; transfers between stages are free.
  const std::int64_t tf = 100, tb = 200;
  for (const auto& [p, m] : {std::pair{4, 8}, std::pair{2, 3}, std::pair{8, 32}}) {
    TaskGraph g;
    std::map<std::pair<std::int64_t, std::int64_t>, TaskId> fwd, bwd;  // (stage, micro-batch)
    std::vector<std::vector<ScheduleItem>> sched;
    for (std::int64_t s = 0; s < p; ++s) {
      g.rank_ids.push_back(s);
      g.rank_stage.push_back(s);
      sched.push_back(stage_schedule(p, 1, m, s, true));
    }
    std::vector<std::size_t> next(static_cast<std::size_t>(p), 0);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::int64_t s = 0; s < p; ++s) {
        auto& i = next[static_cast<std::size_t>(s)];
        while (i < sched[static_cast<std::size_t>(s)].size()) {
          const auto it = sched[static_cast<std::size_t>(s)][i];
          std::vector<TaskId> deps;
          if (it.forward && s > 0) {
            if (!fwd.count({s - 1, it.micro_batch})) break;
            deps.push_back(fwd.at({s - 1, it.micro_batch}));
          }
          if (!it.forward) {
            const auto key = s == p - 1 ? std::pair{s, it.micro_batch} : std::pair{s + 1, it.micro_batch};
            if (!(s == p - 1 ? fwd.count(key) : bwd.count(key))) break;
            deps.push_back(s == p - 1 ? fwd.at(key) : bwd.at(key));
          }
          const TaskId t = compute(g, static_cast<std::int32_t>(s), it.forward ? tf : tb, deps);
          (it.forward ? fwd : bwd)[{s, it.micro_batch}] = t;
          ++i;
          progress = true;
        }
      }
    }
    const auto r = run_engine(g);
    const double expected = static_cast<double>((m + p - 1) * (tf + tb));
    const double bubble = 1.0 - static_cast<double>(m * (tf + tb)) / static_cast<double>(r.makespan.value);
    const double expected_bubble = static_cast<double>(p - 1) / static_cast<double>(m + p - 1);
    MESSAGE("p=" << p << " m=" << m << ": step " << r.makespan.value << " ns (closed form " << expected
                 << "), bubble " << bubble << " (closed form " << expected_bubble << ")");
    CHECK(static_cast<double>(r.makespan.value) == expected);
    CHECK(bubble == doctest::Approx(expected_bubble).epsilon(1e-12));
  }
}

TEST_CASE("interleaved 1F1B visits every (chunk, micro-batch) once forward and once backward") {
  const auto items = stage_schedule(4, 2, 8, 1, true);
  std::map<std::tuple<bool, std::int64_t, std::int64_t>, int> seen;
  for (const auto& it : items) ++seen[{it.forward, it.chunk, it.micro_batch}];
  CHECK(items.size() == 2 * 8 * 2);
  CHECK(seen.size() == items.size());
  // Warm-up of stage 1: (4 - 1 - 1) * 2 + (2 - 1) * 4 = 8 forwards before the first backward.
  std::size_t first_backward = 0;
  while (items[first_backward].forward) ++first_backward;
  CHECK(first_backward == 9);  // 8 warm-up forwards plus the first steady forward
}
