// The measurement loop every profiler entry and kernel benchmark uses (STYLE.md, "Measurements
// follow a method"): warm-up runs apart from the timed ones, one pair of CUDA events around each
// timed run, operand sets rotated so that inputs come from HBM, the median with p10 and p90 over
// at least 20 samples. Compiled by nvcc (C++17) and g++ (C++20) alike.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <vector>

namespace ecsim::profiler {

struct TimingMethod {
  int warmup = 3;             // untimed runs first: module load, cuBLAS heuristics, clocks up
  int min_samples = 20;
  int max_samples = 100;
  double target_ms = 5.0;     // cheap kernels get samples beyond the minimum up to this much GPU time
  // Runs of at least rest_above_ms (0: none) are each followed by a rest of rest_ratio times their
  // GPU time, in which one thread sleeps, and take at least rested_min_samples samples (the same GPU
  // time as min_samples without rests at rest_ratio 1 and 10 of 20). Back to back, long products
  // draw the card to its power cap within their own timed runs and are timed at a lowered clock
  // that a training step, their neighbours there lighter, does not meet (clock_cool_down.hpp).
  double rest_above_ms = 0;
  double rest_ratio = 1.0;
  int rested_min_samples = 10;
};

struct Timing {
  double p10_ns = 0;
  double p50_ns = 0;
  double p90_ns = 0;
  int samples = 0;
  // EventTimer: the median time the GPU spent between one timed run's stop event and the next
  // run's start event, enqueued back to back (0 with fewer than 2 samples or rested): the gap a
  // training step's event-timed operators leave between them (kernels/runner/op_timer.hpp).
  double gap_ns = 0;
  // EventTimer: whether each timed run was followed by a rest (TimingMethod::rest_above_ms), and
  // the GPU's time from the first timed run's start to the last one's stop, rests included.
  bool rested = false;
  double span_ns = 0;
  // EventTimer: the median host time to enqueue one timed run, its start event, the run and its
  // stop event, as the runner's per-operator scope does (the profile entry's host_ns).
  double host_ns = 0;
};

// Linear between the order statistics of sorted values: q = 0.5 is the median.
double percentile(const std::vector<double>& sorted, double q);
Timing summarize(std::vector<double> samples_ns);

class EventTimer {
 public:
  EventTimer(cudaStream_t stream, int max_samples);
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  ~EventTimer();

  // Times run(set), which enqueues one run on the timer's stream using operand set `set`
  // (0 <= set < sets; successive runs take successive sets). Before the timed runs a kernel holds
  // the stream while the host enqueues them all, so that each interval measures the GPU's work
  // and not the host's launch latency: what a training step sees, whose host runs ahead.
  Timing time(int sets, const TimingMethod& method, const std::function<void(int set)>& run);
  // The host's time to record a start and a stop event with nothing between them (p10, p50, p90
  // over min(pairs, max_samples) pairs enqueued behind a held stream; the profile's
  // event_pair_host_ns). The pairs' GPU times are not kept.
  Timing time_event_pairs(int pairs);
  // The samples of the last time() call, in nanoseconds, in run order.
  const std::vector<double>& last_samples() const { return last_; }

 private:
  // Enqueues sample's start event, between() and its stop event; returns the host's time for all three.
  double enqueue_timed(int sample, const std::function<void()>& between);

  cudaStream_t stream_;
  std::vector<cudaEvent_t> start_, stop_;
  std::vector<double> last_;
};

}  // namespace ecsim::profiler
