// The profiler's measurement loop (timing.hpp).
//   hold_stream_kernel: one thread spins on the global nanosecond timer (global_timer.cuh), so the
//   stream stays busy while the host enqueues the timed runs behind it.
//   rest_kernel: one thread sleeps in short naps until a span has passed, the GPU otherwise idle:
//   the rest after each long timed run (TimingMethod::rest_above_ms).
// Without a GPU: tests/emulation/profile_emulated_test.sh runs the profiler, this loop included,
// on the emulated device (its logic; the times are the CPU's).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "cuda_check.hpp"
#include "launch.cuh"
#include "profiler/global_timer.cuh"
#include "profiler/timing.hpp"

namespace ecsim::profiler {
namespace {

constexpr double kMaxHoldNs = 100e6;     // never hold the stream longer than 100 ms
constexpr double kHoldSlackNs = 20e3;    // plus the first launch's own latency
constexpr double kNsPerMs = 1e6;
constexpr double kRestLaunchNs = 10e3;   // the host's time to enqueue one rest, generously
// Events resolve about 0.5 us: a pair around a shorter kernel can read 0, and no kernel takes no
// time (profiles require positive times).
constexpr double kMinSampleNs = 1.0;

__global__ void hold_stream_kernel(unsigned long long ns) {
  const unsigned long long until = global_timer_ns() + ns;
  while (global_timer_ns() < until) {
  }
}

__global__ void rest_kernel(unsigned long long ns) {
  const unsigned long long until = global_timer_ns() + ns;
  while (global_timer_ns() < until) nap();
}

double host_ns_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Timing summarize(std::vector<double> samples_ns) {
  std::sort(samples_ns.begin(), samples_ns.end());
  return {percentile(samples_ns, 0.1), percentile(samples_ns, 0.5), percentile(samples_ns, 0.9),
          static_cast<int>(samples_ns.size())};
}

EventTimer::EventTimer(cudaStream_t stream, int max_samples)
    : stream_(stream), start_(static_cast<std::size_t>(max_samples)), stop_(static_cast<std::size_t>(max_samples)) {
  for (std::size_t i = 0; i < start_.size(); ++i) {
    CUDA_CHECK(cudaEventCreate(&start_[i]));
    CUDA_CHECK(cudaEventCreate(&stop_[i]));
  }
}

EventTimer::~EventTimer() {
  for (std::size_t i = 0; i < start_.size(); ++i) {
    cudaEventDestroy(start_[i]);
    cudaEventDestroy(stop_[i]);
  }
}

double EventTimer::enqueue_timed(int sample, const std::function<void()>& between) {
  const auto i = static_cast<std::size_t>(sample);
  const auto t0 = std::chrono::steady_clock::now();
  CUDA_CHECK(cudaEventRecord(start_[i], stream_));
  between();
  CUDA_CHECK(cudaEventRecord(stop_[i], stream_));
  return host_ns_since(t0);
}

Timing EventTimer::time(int sets, const TimingMethod& method, const std::function<void(int set)>& run) {
  const int max_samples = std::min<int>(method.max_samples, static_cast<int>(start_.size()));
  int next = 0;
  auto next_set = [&] { return next++ % std::max(sets, 1); };

  // Warm-up: the first run alone (module load, cuBLAS's heuristics), then the rest under one pair
  // of events, which also estimates a run's GPU time and the host's time to enqueue one.
  run(next_set());
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  const int estimate_runs = std::max(method.warmup - 1, 1);
  CUDA_CHECK(cudaEventRecord(start_[0], stream_));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < estimate_runs; ++i) run(next_set());
  const double host_per_run = host_ns_since(t0) / estimate_runs;
  CUDA_CHECK(cudaEventRecord(stop_[0], stream_));
  CUDA_CHECK(cudaEventSynchronize(stop_[0]));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start_[0], stop_[0]));
  const double gpu_per_run = std::max(ms * kNsPerMs / estimate_runs, 1.0);

  const bool rested = method.rest_above_ms > 0 && gpu_per_run >= method.rest_above_ms * kNsPerMs;
  const int min_samples = std::min(rested ? method.rested_min_samples : method.min_samples, max_samples);
  const int samples = static_cast<int>(
      std::clamp<double>(std::ceil(method.target_ms * kNsPerMs / gpu_per_run), min_samples, max_samples));
  const auto rest = static_cast<unsigned long long>(rested ? method.rest_ratio * gpu_per_run : 0.0);
  const double enqueue_per_run = host_per_run + (rested ? kRestLaunchNs : 0.0);
  const double hold = std::min(kMaxHoldNs, 2.0 * samples * enqueue_per_run + kHoldSlackNs);
  CUDA_CHECK(launch_kernel(hold_stream_kernel, 1, 1, 0, stream_, static_cast<unsigned long long>(hold)));
  std::vector<double> host(static_cast<std::size_t>(samples));
  for (int s = 0; s < samples; ++s) {
    host[static_cast<std::size_t>(s)] = enqueue_timed(s, [&] { run(next_set()); });
    if (rested && s + 1 < samples) CUDA_CHECK(launch_kernel(rest_kernel, 1, 1, 0, stream_, rest));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  last_.assign(static_cast<std::size_t>(samples), 0.0);
  std::vector<double> gaps;
  for (int s = 0; s < samples; ++s) {
    const auto i = static_cast<std::size_t>(s);
    CUDA_CHECK(cudaEventElapsedTime(&ms, start_[i], stop_[i]));
    last_[i] = std::max(ms * kNsPerMs, kMinSampleNs);
    if (!rested && i + 1 < static_cast<std::size_t>(samples)) {
      CUDA_CHECK(cudaEventElapsedTime(&ms, stop_[i], start_[i + 1]));
      gaps.push_back(std::max(ms * kNsPerMs, 0.0));
    }
  }
  Timing t = summarize(last_);
  if (!gaps.empty()) t.gap_ns = summarize(std::move(gaps)).p50_ns;
  t.host_ns = summarize(std::move(host)).p50_ns;
  t.rested = rested;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start_[0], stop_[static_cast<std::size_t>(samples - 1)]));
  t.span_ns = ms * kNsPerMs;
  return t;
}

Timing EventTimer::time_event_pairs(int pairs) {
  const int n = std::clamp(pairs, 1, static_cast<int>(start_.size()));
  // Held long enough (20 us a pair, several times the host's time) that no event is recorded on the
  // GPU while the host still records the next.
  constexpr double kHoldPerPairNs = 20e3;
  const auto hold = static_cast<unsigned long long>(n * kHoldPerPairNs + kHoldSlackNs);
  CUDA_CHECK(launch_kernel(hold_stream_kernel, 1, 1, 0, stream_, hold));
  std::vector<double> host(static_cast<std::size_t>(n));
  for (int s = 0; s < n; ++s) host[static_cast<std::size_t>(s)] = enqueue_timed(s, [] {});
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return summarize(std::move(host));
}

}  // namespace ecsim::profiler
