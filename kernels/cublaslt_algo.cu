// The cuBLASLt helpers of cublaslt_algo.cuh.
#include "cublaslt_algo.cuh"

#include <algorithm>

#include "cuda_check.hpp"

namespace ecsim {

LtSession::LtSession() {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
  if (const cudaError_t e = cudaMalloc(&workspace_, kWorkspaceBytes); e != cudaSuccess) {
    cublasLtDestroy(handle_);
    CUDA_CHECK(e);
  }
}

LtSession::~LtSession() {
  // Destructors cannot throw: a failed release leaks only the handle or the workspace.
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

std::uint32_t lt_alignment_of(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if (address == 0) return kLtMaxAlignment;
  return static_cast<std::uint32_t>(std::min<std::uintptr_t>(address & (~address + 1), kLtMaxAlignment));
}

cublasLtMatrixLayout_t lt_layout(cudaDataType_t type, std::int64_t rows, std::int64_t cols, std::int64_t batch) {
  cublasLtMatrixLayout_t l = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, type, static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols),
                                          rows));
  if (batch > 1) {
    // The attributes' types as cublasLt.h gives them: int32_t count, int64_t stride.
    const auto count = static_cast<std::int32_t>(batch);
    const std::int64_t stride = rows * cols;
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return l;
}

bool lt_best_algorithm(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                       cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                       std::uint32_t alignment, std::size_t workspace_bytes, cublasLtMatmulAlgo_t& algo,
                       std::size_t& algo_workspace_bytes) {
  cublasLtMatmulPreference_t preference = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = [&] {
    const std::uint64_t workspace = workspace_bytes;
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                            &workspace, sizeof(workspace));
    for (const auto attribute :
         {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      if (s == CUBLAS_STATUS_SUCCESS) {
        s = cublasLtMatmulPreferenceSetAttribute(preference, attribute, &alignment, sizeof(alignment));
      }
    }
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    return cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, c, d, preference, 1, &result, &found);
  }();
  cublasLtMatmulPreferenceDestroy(preference);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) return false;
  CUBLAS_CHECK(status);
  if (found == 0) return false;
  algo = result.algo;
  algo_workspace_bytes = result.workspaceSize;
  return true;
}

}  // namespace ecsim
