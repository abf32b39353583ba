// kernels/cublaslt_algo.cu compiled as C++ for the CUDA emulation (README.md): its cuBLASLt calls go to
// the emulated cuBLASLt (cublaslt_emulated.cpp).

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

#include "cublaslt_algo.cu"
