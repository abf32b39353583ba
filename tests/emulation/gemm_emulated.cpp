// kernels/gemm.cu compiled as C++ for the CUDA emulation (README.md): its launchers' cuBLAS calls go
// to the emulated cuBLAS (cublas_emulated.cpp), its pointer kernel runs under the emulator.

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

// The launchers, the grouped-pointer kernel and the helpers they include (launch.cuh).
#include "gemm.cu"
