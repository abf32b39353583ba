#include "runner/device_memory.hpp"

#include <string>

#include "core/errors.hpp"

namespace ecsim::runner {

TrackedMemory& tracked_memory() {
  static TrackedMemory t;
  return t;
}

std::size_t device_bytes_in_use() {
  std::size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return total - free;
}

void throw_size_mismatch(std::size_t expected, std::size_t got) {
  throw RuntimeFailure("DeviceArray: a copy of " + std::to_string(got) + " elements into a buffer of " +
                       std::to_string(expected));
}

}  // namespace ecsim::runner
