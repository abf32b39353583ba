// kernels/residual_add.cu compiled as C++ for the CUDA emulation (README.md): the kernels' own source,
// included rather than copied, so the emulated tests run exactly the code nvcc compiles.

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

// The kernels, their launchers and the helpers they include (launch.cuh, elementwise_launch.cuh).
#include "residual_add.cu"
