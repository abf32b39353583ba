// CUDA_CHECK: wraps a CUDA runtime call; on failure throws ecsim::CudaError carrying the expression,
// file:line, the error's name and its string, e.g.
//   cudaMalloc(&p, bytes) at kernels/ec_route.cu:212: cudaErrorMemoryAllocation (out of memory)
// Library code throws; only a main() turns the exception into an exit code.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace ecsim {

struct CudaError : std::runtime_error {
  CudaError(cudaError_t code, const char* expression, const char* file, int line)
      : std::runtime_error(std::string(expression) + " at " + file + ":" + std::to_string(line) + ": " +
                           cudaGetErrorName(code) + " (" + cudaGetErrorString(code) + ")"),
        code_(code) {}
  cudaError_t code() const { return code_; }

 private:
  cudaError_t code_;
};

inline void cuda_check(cudaError_t code, const char* expression, const char* file, int line) {
  if (code != cudaSuccess) throw CudaError(code, expression, file, line);
}

}  // namespace ecsim

#define CUDA_CHECK(expr) ::ecsim::cuda_check((expr), #expr, __FILE__, __LINE__)
