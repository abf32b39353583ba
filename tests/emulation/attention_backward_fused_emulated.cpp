// kernels/attention_backward_fused.cu compiled as C++ for the CUDA emulation (README.md): the
// kernel's own source, included rather than copied, as attention_emulated.cpp does for attention.cu.

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

// The kernel, its launcher and the helpers they include (attention_tiles.cuh, launch.cuh).
#include "attention_backward_fused.cu"
