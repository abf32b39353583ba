// Precondition checks that every launcher shares: device pointers present, sizes that fit the
// kernels' index types and grid limits. Each throws PreconditionError naming the launcher.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

#include "precondition.hpp"

namespace ecsim {

using NamedPointer = std::pair<const char*, const void*>;

// require_pointers("gelu_fwd", {{"x", x}, {"y", y}}) names the first null buffer.
inline void require_pointers(const char* op, std::initializer_list<NamedPointer> buffers) {
  for (const auto& [name, p] : buffers) require(p != nullptr, std::string(op) + ": " + name + " is null");
}

inline void require_positive(std::int64_t v, const char* op, const char* name) {
  require(v > 0, std::string(op) + ": " + name + " must be positive, got " + std::to_string(v));
}

// A count that becomes a 32-bit grid dimension or kernel argument.
inline void require_int32(std::int64_t v, const char* op, const char* name) {
  require(v <= std::numeric_limits<std::int32_t>::max(), std::string(op) + ": " + name + " " + std::to_string(v) +
                                                             " exceeds the 32-bit range the kernel indexes with");
}

}  // namespace ecsim
