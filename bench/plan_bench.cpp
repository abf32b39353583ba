// Benchmark (not a test): wall time of `ecsim plan` on the default scenario (EC-DiT-M-64E, 97.2B
// parameters, global batch 4096) over GPU counts from 1024 to 4096: enumeration, memory, the
// screen over every fitting layout and the engine over the screen's best, with the thread pool.
// Goal (issue 6): at least 10,000 candidate layouts in at most 60 s on a 2-core machine.
// Rows: the planner as `ecsim plan` runs it on all cores and on one, and with the engine on every
// layout that fits (no screen cut), to show what the screen saves.
// Run: build/bin/ecsim-bench-plan [--repeats N] [--gpus SPEC]; figures go to docs/PERFORMANCE.md.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "plan/gpu_counts.hpp"
#include "plan/planner.hpp"

using namespace ecsim;

namespace {

// Every whole-node count from 1024 to 4096 GPUs that has layouts at all: dp must divide the
// global batch of 4096 (a power of two), so GPUs = 2^k x (tp x pp) with pp in {1, 2, 19, 38}.
constexpr const char* kDefaultGpus = "1024,1216,2048,2432,4096";

struct Timing {
  double median_s, min_s, max_s;
  double cpu_s;  // process CPU seconds (all threads) of the median run: the work, whatever the load
  PlanCounts counts;
};

Timing time_plan(const Scenario& s, const PlanSettings& st, int repeats) {
  std::vector<std::pair<double, double>> samples;  // (wall, cpu)
  PlanResult last;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    last = run_plan(s, st);
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    samples.emplace_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cpu);
  }
  std::sort(samples.begin(), samples.end());
  const auto& mid = samples[samples.size() / 2];
  return {mid.first, samples.front().first, samples.back().first, mid.second, last.counts};
}

void row(const char* what, unsigned threads, const Timing& t) {
  std::int64_t invalid = 0;
  for (const auto& [why, n] : t.counts.invalid_by_reason) invalid += n;
  std::printf("%-30s %7u %9.3f %9.3f %9.3f %7.3f %10lld %8lld %9lld %9lld %13.0f %13.0f\n", what, threads, t.median_s,
              t.min_s, t.max_s, t.cpu_s, static_cast<long long>(t.counts.enumerated), static_cast<long long>(invalid),
              static_cast<long long>(t.counts.screened), static_cast<long long>(t.counts.simulated),
              static_cast<double>(t.counts.enumerated) / t.median_s, static_cast<double>(t.counts.screened) / t.median_s);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  std::string gpus = kDefaultGpus;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeats") repeats = std::max(1, std::stoi(argv[i + 1]));
    if (flag == "--gpus") gpus = argv[i + 1];
  }
  const Scenario s = default_scenario();
  PlanSettings st;
  st.gpu_counts = parse_gpu_counts(gpus, s.cluster->gpus_per_node);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("# ecsim plan benchmark: %s, GPUs %s, top %lld x %lld simulated per count; wall seconds (median, min, max "
              "of %d runs)\n",
              s.name.c_str(), gpus.c_str(), static_cast<long long>(st.top), static_cast<long long>(st.simulate_factor),
              repeats);
  std::printf("%-30s %7s %9s %9s %9s %7s %10s %8s %9s %9s %13s %13s\n", "case", "threads", "median_s", "min_s", "max_s",
              "cpu_s", "enumerated", "invalid", "screened", "simulated", "enumerated/s", "screened/s");
  st.threads = cores;
  row("all cores", cores, time_plan(s, st, repeats));
  st.threads = 1;
  row("one thread", 1, time_plan(s, st, repeats));
  // Without the screen's cut: the engine simulates every layout that fits.
  st.threads = cores;
  st.simulate_factor = std::numeric_limits<std::int64_t>::max();
  row("engine on every fitting layout", cores, time_plan(s, st, repeats));
  return 0;
}
