// What `ecsim plan` reports: the JSON file (schema "ecsim.plan/1", keys read by the report
// generator) and the terminal tables (best layouts per GPU count, screen against engine, time to
// train against GPU-hours with its Pareto front).
#pragma once

#include <iosfwd>

#include "core/json_input.hpp"
#include "plan/planner.hpp"

namespace ecsim {

inline constexpr const char* kPlanSchema = "ecsim.plan/1";

Json plan_to_json(const PlanResult& r);
void print_plan(const PlanResult& r, std::ostream& out);

}  // namespace ecsim
