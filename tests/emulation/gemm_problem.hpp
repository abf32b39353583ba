// One column-major matrix product as the emulated cuBLAS and cuBLASLt compute it (README.md, "The
// emulated device"): C = alpha op(A) op(B) + beta C (+ bias[i] on every row i, cuBLASLt's
// CUBLASLT_EPILOGUE_BIAS), bf16 or fp32 operands, fp32 accumulation in k order and one rounding to
// C's type. run_problem checks what a launcher's index arithmetic could get wrong: the arguments
// cuBLAS validates (CUBLAS_STATUS_INVALID_VALUE, as cuBLAS returns it), and every matrix inside one
// live cudaMalloc allocation (EmulationError otherwise). beta = 0 never reads C, as in cuBLAS.
#pragma once

#include <cublas_api.h>

#include <string>

namespace ecsim::emulation {

struct Matrix {
  const void* data;
  cudaDataType_t type;
  int ld;
};

struct Problem {
  cublasOperation_t trans_a, trans_b;
  int m, n, k;
  float alpha;
  Matrix a, b;
  float beta;
  void* c;
  cudaDataType_t c_type;
  int ldc;
  const void* bias = nullptr;  // [m] in C's type, added to every column; none when null
};

// Runs p (compute must be CUBLAS_COMPUTE_32F) or returns the status cuBLAS would; `call` names the
// API call in an EmulationError. Fails as a call from inside a running kernel would.
cublasStatus_t run_problem(const Problem& p, cublasComputeType_t compute, const std::string& call);

// Where a batch entry `elements` elements of type t past p starts.
const void* offset(const void* p, long long elements, cudaDataType_t t);

}  // namespace ecsim::emulation
