// `ecsim plan <scenario.json> --gpus N [--top K] [--headroom H] [--simulate-factor F]
//   [--train-steps S] [--threads T] [--profile FILE] [--json FILE]`
#pragma once

#include <iosfwd>
#include <string>

#include "plan/planner.hpp"

namespace ecsim {

struct PlanCommandOptions {
  std::string scenario;
  std::string gpus;      // "1024", "512,1024,2048" or "512..4096x2"
  std::string profile;   // empty: the analytic model of the cluster's GPU
  std::string json_out;  // empty: no JSON file
  PlanSettings settings;  // the numeric options, with their defaults (planner.hpp)
};

// Prints the tables to `out`, a progress bar to stderr when it is a terminal; writes the JSON
// atomically. Throws InputError (bad scenario, --gpus, option values) / RuntimeFailure.
void run_plan_command(const PlanCommandOptions& opts, std::ostream& out);

}  // namespace ecsim
