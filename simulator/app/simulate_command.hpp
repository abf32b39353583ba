// `ecsim simulate [scenario.json] [--layout ...] [--profile FILE] [--json FILE] [--csv FILE] [--trace FILE]`
#pragma once

#include <iosfwd>
#include <string>

namespace ecsim {

struct SimulateOptions {
  std::string scenario;  // empty: the embedded default (EC-DiT-M-64E training on 1024 H100)
  std::string layout;    // "dp=..,tp=..": overrides the scenario's layout keys
  std::string profile;   // empty: the analytic model of the cluster's GPU
  std::string json_out, csv_out, trace_out;
  unsigned threads = 0;  // routing samples' workers (0: one per hardware thread)
};

void run_simulate_command(const SimulateOptions& opts, std::ostream& out);

}  // namespace ecsim
