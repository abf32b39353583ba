// Grid size for the grid-stride elementwise kernels: one thread per element up to the x-dimension
// limit of a grid; the stride loop covers the rest.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ecsim {

inline unsigned elementwise_blocks(std::int64_t elements, int threads) {
  const std::int64_t blocks = (elements + threads - 1) / threads;
  return static_cast<unsigned>(std::min<std::int64_t>(blocks, 2147483647));
}

}  // namespace ecsim
