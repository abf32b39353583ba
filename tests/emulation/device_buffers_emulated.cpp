// profiles/profiler/device_buffers.cu compiled as C++ for the CUDA emulation (README.md): the
// profiler's allocations and operand pools in the emulated device's memory, its fill kernels under
// the emulator.

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

#include "profiler/device_buffers.cu"
