// What every kernel benchmark prints before its table (STYLE.md: the device and clocks next to the
// number, the date and the exact command that reproduces it), and the method line.
#pragma once

#include <chrono>
#include <ctime>
#include <ostream>
#include <string>

#include "profiler/device_info.hpp"
#include "profiler/timing.hpp"

namespace ecsim::bench {

inline std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

inline void print_header(const profiler::DeviceInfo& d, const std::string& command, const profiler::TimingMethod& m,
                         std::ostream& out) {
  out << "# card: " << d.name << " (" << d.sms << " SMs, L2 " << d.l2_bytes / (1 << 20) << " MiB, max SM clock "
      << d.max_sm_clock_mhz << " MHz, SM clock now " << profiler::current_sm_clock_mhz(d) << " MHz)\n"
      << "# driver " << d.driver << ", CUDA runtime " << d.cuda_runtime << ", cuBLAS " << d.cublas << "\n"
      << "# date: " << utc_now() << "\n"
      << "# command: " << command << "\n"
      << "# method: " << m.warmup << " warm-up runs, then " << m.min_samples << ".." << m.max_samples
      << " runs each timed by CUDA events, inputs rotated past 2x L2, random bf16; median (p10, p90)\n";
}

}  // namespace ecsim::bench
