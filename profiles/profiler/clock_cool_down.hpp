// The SM clock a profile entry is timed at. A card capping its power lowers its SM clock, and a
// kernel timed then runs slower than a training step's operators do between the lighter kernels
// around them: on an H200 (2026-11-28) the quick sweep's 600 W of back-to-back kernels held the
// clock at 1500 MHz or less in a tenth of nvidia-smi's samples, where the runner's steps held
// 1980, and the long GEMMs it timed came out 19 to 25% slower than the runner ran them. Before each
// entry the profiler waits, up to a budget, while NVML reads the clock below kHeldDownShare of the
// maximum (ClockCoolDown), and after it records the clock (profile.csv). The waits did not keep the
// clock up on that H200, since the long products throttled within their own timed runs: since the
// seventh session of 2026-11-28 those runs each have a rest after them (timing.hpp,
// TimingMethod::rest_above_ms). A cluster that caps its power through hours of training runs
// slower than such a profile prices.
// Without NVML (the emulated device, a machine without a driver) the clock reads 0 and nothing
// waits.
#pragma once

#include <functional>
#include <ostream>
#include <utility>

namespace ecsim::profiler {

constexpr double kHeldDownShare = 0.95;

// Whether `mhz` (0: unknown) is below kHeldDownShare of `max_mhz` (0: unknown, never held down).
bool clock_held_down(int mhz, int max_mhz);

class ClockCoolDown {
 public:
  // Waits of at most kMaxWaitMs each, `budget_s` seconds in all; `read_mhz` reads the SM clock now
  // (current_sm_clock_mhz, device_info.hpp).
  ClockCoolDown(int max_mhz, double budget_s, std::function<int()> read_mhz)
      : max_mhz_(max_mhz), budget_s_(budget_s), read_mhz_(std::move(read_mhz)) {}
  // Before an entry: waits in 1 ms steps while the clock is held down, until it recovers, the wait
  // reaches kMaxWaitMs or the budget is spent.
  void before_entry();
  // "clock cool-down: waited before N entries, X s in all; K still held down when the wait ended",
  // or nothing when no entry waited.
  void report(std::ostream& log) const;

  static constexpr int kMaxWaitMs = 100;
  int waits() const { return waits_; }
  int still_held() const { return still_held_; }
  double waited_s() const { return waited_s_; }

 private:
  int max_mhz_;
  double budget_s_;
  std::function<int()> read_mhz_;
  double waited_s_ = 0;
  int waits_ = 0;
  int still_held_ = 0;
};

}  // namespace ecsim::profiler
