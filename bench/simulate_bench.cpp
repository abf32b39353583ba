// Benchmark (not a test): wall time to simulate one training step of the default scenario
// (EC-DiT-M-64E, 1024 H100), and how it grows with the GPU count (64..16384) and the layer count.
// Goal (issue 3): one step of the 1024-GPU default in at most 0.5 s on one core.
// Run: build/bin/ecsim-bench-simulate [--repeats N]; figures go to docs/PERFORMANCE.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cost/compute_cost.hpp"
#include "result/simulation.hpp"

using namespace ecsim;

namespace {

struct Timing {
  double median_s, p10_s, p90_s;
  std::size_t tasks;
  std::int64_t events;
  double step_s;
};

Timing time_simulation(const Scenario& s, const Layout& layout, int repeats) {
  std::vector<double> samples;
  SimulationResult last;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const LayoutPlan p = plan_layout(s, layout, "/layout");
    const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
    last = simulate(s, p, cost);
    samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))]; };
  return {at(0.5), at(0.1), at(0.9), last.graph.tasks.size(), last.engine.events, last.step_time.value};
}

void row(const char* what, const Timing& t) {
  std::printf("%-44s %10.4f %10.4f %10.4f %9zu %10lld %10.4f\n", what, t.median_s, t.p10_s, t.p90_s, t.tasks,
              static_cast<long long>(t.events), t.step_s);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  if (argc == 3 && std::string(argv[1]) == "--repeats") repeats = std::max(1, std::stoi(argv[2]));
  const Scenario base = default_scenario();
  std::printf("# ecsim simulate benchmark: wall seconds per simulated step (median, p10, p90 of %d runs), one thread\n",
              repeats);
  std::printf("%-44s %10s %10s %10s %9s %10s %10s\n", "case", "median_s", "p10_s", "p90_s", "tasks", "events", "step_s");

  row("default: M-64E, 1024 GPUs (scenario layout)", time_simulation(base, *base.layout, repeats));

  // GPU count: the same layout shape, data parallel grows; the global batch grows with it so
  // that each rank keeps one 8-image micro-batch (EC routing groups stay whole).
  for (const std::int64_t gpus : {64, 256, 1024, 4096, 16384}) {
    Scenario s = base;
    s.cluster->gpus = gpus;
    s.run.global_batch = gpus / 2 * 8;
    Layout l = *base.layout;
    l.pp = 1;
    l.vpp = 1;
    l.dp = gpus / 2;
    l.ep = std::min<std::int64_t>(64, l.dp);
    row(("GPUs " + std::to_string(gpus)).c_str(), time_simulation(s, l, repeats));
  }
  // Pipeline stages multiply the simulated ranks; virtual stages the chunks (38 layers: pp 2, vpp 19).
  for (const std::int64_t vpp : {1, 19}) {
    Layout l = *base.layout;
    l.pp = 2;
    l.vpp = vpp;
    l.dp = 256;
    l.ep = 64;
    row(("1024 GPUs, pp 2, vpp " + std::to_string(vpp)).c_str(), time_simulation(base, l, repeats));
  }
  // Layers: the same width with 2x and 4x the blocks (no pipeline, so any count divides).
  for (const std::int64_t mult : {2, 4}) {
    Scenario s = base;
    s.model.layers = base.model.layers * mult;
    Layout l = *base.layout;
    l.pp = 1;
    l.vpp = 1;
    l.dp = 512;
    row(("layers x" + std::to_string(mult)).c_str(), time_simulation(s, l, repeats));
  }
  return 0;
}
