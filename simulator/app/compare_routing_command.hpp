// `ecsim compare-routing <scenario.json> [--json FILE]`: expert choice against token choice
// (top-1, top-2; capacity factors 1.0, 1.25, 2.0 and dropless) at equal activated compute, in the
// scenario's model, cluster and layout, under the scenario's routing statistics (run.routing_stats;
// Zipf 0.8 when it has none). Prints a table and a text bar chart of the step time; writes
// schema "ecsim.routing/1".
#pragma once

#include <iosfwd>
#include <string>

namespace ecsim {

struct CompareRoutingOptions {
  std::string scenario;
  std::string json_out;  // empty: no JSON file
  unsigned threads = 0;  // routing samples' workers (0: one per hardware thread)
};

void run_compare_routing_command(const CompareRoutingOptions& opts, std::ostream& out);

}  // namespace ecsim
