// The error the CUDA emulation throws (README.md): a shared-memory race or out-of-bounds access, a
// read of shared memory no thread wrote, a deadlock, a launch the hardware would refuse. Its
// message names the block, the threads and, for memory accesses, the code addresses
// (module+offset, for addr2line).
#pragma once

#include <stdexcept>

namespace ecsim::emulation {

struct EmulationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ecsim::emulation
