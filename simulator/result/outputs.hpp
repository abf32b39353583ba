// What `ecsim simulate` writes: the result JSON (keys in DESIGN.md, schema "ecsim.result/1"), a
// Chrome trace (pid = rank, tid = stream; opens in ui.perfetto.dev), a per-operator CSV, and the
// terminal summary.
#pragma once

#include <iosfwd>
#include <string>

#include "result/simulation.hpp"

namespace ecsim {

Json result_to_json(const SimulationResult& r);
// Where the kernels' prices came from (cost_model in the result and the validation JSON): counts of
// calls, and the families left to the roofline with their call counts and first shapes.
Json pricing_to_json(const PricingStats& p);
std::string trace_json(const SimulationResult& r);
std::string operator_csv(const SimulationResult& r);
void print_summary(const SimulationResult& r, std::ostream& out);

}  // namespace ecsim
