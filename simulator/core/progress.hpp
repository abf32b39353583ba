// How long-running work reports how far it has got: (phase, items done, items in the phase). An
// empty callback reports nothing. The planner calls it from its workers, so it must be
// thread-safe; app/progress_bar.hpp draws one on a terminal.
#pragma once

#include <cstddef>
#include <functional>

namespace ecsim {

using Progress = std::function<void(const char* phase, std::size_t done, std::size_t total)>;

}  // namespace ecsim
