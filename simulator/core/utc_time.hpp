// The UTC timestamp every file ecsim writes records ("created": ISO 8601, seconds, "Z").
#pragma once

#include <string>

namespace ecsim {

std::string utc_now_iso8601();  // e.g. "2026-11-26T20:37:36Z"

}  // namespace ecsim
