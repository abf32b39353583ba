// `ecsim validate --measured RUN.json --scenario S.json [--profile FILE] [--json FILE]`
#pragma once

#include <iosfwd>
#include <string>

namespace ecsim {

struct ValidateOptions {
  std::string measured;
  std::string scenario;
  std::string profile;
  std::string json_out;
};

void run_validate_command(const ValidateOptions& opts, std::ostream& out);

}  // namespace ecsim
