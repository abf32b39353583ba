// What the cuBLASLt products (gemm_bias.cu, ragged_gemm.cu) share: a handle with its workspace,
// operand alignment, typed attribute setters, column-major layouts, and one question to the
// heuristic. Implementation in cublaslt_algo.cu.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cublas_check.hpp"

namespace ecsim {

// The largest alignment cuBLASLt's heuristic is told of (its own default assumption).
constexpr std::uint32_t kLtMaxAlignment = 256;

// A cuBLASLt handle and the device workspace its matmuls share (so: one stream at a time), on the
// current device; released together.
class LtSession {
 public:
  // cuBLAS's recommended workspace on Hopper (cuBLAS documentation, cublasSetWorkspace()).
  static constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;

  LtSession();  // cublasLtCreate, then cudaMalloc of the workspace (the handle released if it fails)
  ~LtSession();
  LtSession(const LtSession&) = delete;
  LtSession& operator=(const LtSession&) = delete;

  cublasLtHandle_t handle() const { return handle_; }
  void* workspace() const { return workspace_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
};

// The largest power of two (at most kLtMaxAlignment) dividing p's address; a null pointer counts
// as fully aligned.
std::uint32_t lt_alignment_of(const void* p);

// A matmul descriptor's attribute, in the type cublasLt.h gives it.
template <class T>
void lt_set(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value) {
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)));
}

// A column-major rows x cols matrix of `type` (ld rows), `batch` of them rows * cols elements
// apart.
cublasLtMatrixLayout_t lt_layout(cudaDataType_t type, std::int64_t rows, std::int64_t cols, std::int64_t batch = 1);

// The heuristic's best algorithm for D = op(A) op(B) (+ C) as the descriptors stand, for operands
// aligned to `alignment` bytes and at most `workspace_bytes` of workspace; false where it offers
// none (or calls the operation unsupported). Throws CublasError on any other failure.
bool lt_best_algorithm(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                       cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                       std::uint32_t alignment, std::size_t workspace_bytes, cublasLtMatmulAlgo_t& algo,
                       std::size_t& algo_workspace_bytes);

}  // namespace ecsim
