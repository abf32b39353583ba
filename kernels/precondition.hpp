// The typed error that the CPU references and the CUDA launchers throw when their arguments break a
// precondition (a shape that does not divide, a buffer of the wrong size). Library code throws;
// only a main() turns it into an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace ecsim {

struct PreconditionError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// `what` names the operation and the broken condition, e.g. "ec_route: capacity 0 < 1".
inline void require(bool condition, const std::string& what) {
  if (!condition) throw PreconditionError(what);
}

}  // namespace ecsim
