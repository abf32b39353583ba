// Waiting out a held-down SM clock before each profile entry (clock_cool_down.hpp).
#include "profiler/clock_cool_down.hpp"

#include <chrono>
#include <iomanip>
#include <thread>

namespace ecsim::profiler {

bool clock_held_down(int mhz, int max_mhz) { return mhz > 0 && max_mhz > 0 && mhz < kHeldDownShare * max_mhz; }

void ClockCoolDown::before_entry() {
  if (waited_s_ >= budget_s_ || !clock_held_down(read_mhz_(), max_mhz_)) return;
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  ++waits_;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const bool held = clock_held_down(read_mhz_(), max_mhz_);
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!held) break;
    if (waited * 1e3 >= kMaxWaitMs || waited_s_ + waited >= budget_s_) {
      ++still_held_;
      break;
    }
  }
  waited_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
}

void ClockCoolDown::report(std::ostream& log) const {
  if (waits_ == 0) return;
  log << "clock cool-down: waited before " << waits_ << " entries, " << std::fixed << std::setprecision(1) << waited_s_
      << " s in all (budget " << budget_s_ << " s); " << still_held_ << " still below " << std::setprecision(0)
      << kHeldDownShare * 100 << "% of the max SM clock when the wait ended\n";
}

}  // namespace ecsim::profiler
