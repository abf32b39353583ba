// `ecsim model <scenario.json> [--json FILE]`: parameters, FLOPs and activation bytes per image.
#pragma once

#include <iosfwd>
#include <string>

namespace ecsim {

struct ModelCommandOptions {
  std::string input;      // a model file or a whole scenario
  std::string json_out;   // empty: no JSON file
};

// Prints the table to `out`; writes JSON atomically. Throws InputError / RuntimeFailure.
void run_model_command(const ModelCommandOptions& opts, std::ostream& out);

}  // namespace ecsim
