// profiles/profiler/timing.cu compiled as C++ for the CUDA emulation (README.md): the profiler's
// timing loop on the emulated device, its hold kernel under the emulator, spinning on the host's
// steady clock (profiler/global_timer.cuh).

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

#include "profiler/timing.cu"
