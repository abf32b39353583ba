// CUBLAS_CHECK: wraps a cuBLAS call; on failure throws ecsim::CublasError carrying the expression,
// file:line, the status's name and its string, e.g.
//   cublasGemmEx(...) at kernels/gemm.cu:140: CUBLAS_STATUS_NOT_SUPPORTED (the functionality requested is not supported)
// Library code throws; only a main() turns the exception into an exit code.
#pragma once

#include <cublas_v2.h>

#include <stdexcept>
#include <string>

namespace ecsim {

struct CublasError : std::runtime_error {
  CublasError(cublasStatus_t status, const char* expression, const char* file, int line)
      : std::runtime_error(std::string(expression) + " at " + file + ":" + std::to_string(line) + ": " +
                           cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")"),
        status_(status) {}
  cublasStatus_t status() const { return status_; }

 private:
  cublasStatus_t status_;
};

inline void cublas_check(cublasStatus_t status, const char* expression, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw CublasError(status, expression, file, line);
}

}  // namespace ecsim

#define CUBLAS_CHECK(expr) ::ecsim::cublas_check((expr), #expr, __FILE__, __LINE__)
