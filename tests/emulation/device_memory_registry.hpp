// The emulated device's memory (cuda_runtime_emulated.cpp): cudaMalloc gives exactly-sized host
// allocations, registered here, so that the emulated runtime and cuBLAS can insist that what
// must be device memory is, and that a copy or a matrix stays inside the allocation it starts in.
// Kernel launches are not checked here: the sanitizer build's ASan checks their global accesses.
#pragma once

#include <cstddef>
#include <string>

namespace ecsim::emulation {

// Throws EmulationError unless [p, p + bytes) lies inside one live cudaMalloc allocation. `what`
// names the call and operand: "cublasGemmEx: A".
void require_device_range(const void* p, std::size_t bytes, const std::string& what);

// Throws EmulationError if p is inside a live cudaMalloc allocation (a host operand given device memory).
void require_host_pointer(const void* p, const std::string& what);

// Bytes held by live cudaMalloc allocations.
std::size_t device_bytes_allocated();

}  // namespace ecsim::emulation
