// The cuBLAS calls of kernels/gemm.cu, for the emulated device (README.md, "The emulated device"):
// column-major C = alpha op(A) op(B) + beta C as the cuBLAS documentation defines cublasGemmEx,
// cublasGemmStridedBatchedEx and cublasGemmGroupedBatchedEx, computed and checked by
// gemm_problem.hpp (CUBLAS_COMPUTE_32F, the only compute type gemm.cu asks for), so that a wrong
// leading dimension, stride or group offset fails here instead of reading a neighbour's rows.
// The emulator's definitions of CUDA's keywords come before any CUDA header (cuda_emulation.hpp).
#include "emulation/block_runtime.hpp"

#include <cublas_v2.h>

#include <string>

#include "emulation/device_memory_registry.hpp"
#include "emulation/gemm_problem.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace ecsim::emulation {
namespace {

cublasStatus_t run_checked(cublasHandle_t handle, const Problem& p, cublasComputeType_t compute,
                           const std::string& call) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  return run_problem(p, compute, call);
}

}  // namespace
}  // namespace ecsim::emulation

namespace emu = ecsim::emulation;

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

// The version of the cuBLAS headers whose API this implements.
cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
  switch (type) {
    case MAJOR_VERSION: *value = CUBLAS_VER_MAJOR; return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION: *value = CUBLAS_VER_MINOR; return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL: *value = CUBLAS_VER_PATCH; return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t) {
  const emu::Problem p{transa, transb, m, n, k, *static_cast<const float*>(alpha), {A, Atype, lda}, {B, Btype, ldb},
                       *static_cast<const float*>(beta), C, Ctype, ldc};
  return emu::run_checked(handle, p, computeType, "cublasGemmEx");
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long strideB, const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t) {
  if (batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
  for (int i = 0; i < batchCount; ++i) {
    const emu::Problem p{transa,
                         transb,
                         m,
                         n,
                         k,
                         *static_cast<const float*>(alpha),
                         {emu::offset(A, i * strideA, Atype), Atype, lda},
                         {emu::offset(B, i * strideB, Btype), Btype, ldb},
                         *static_cast<const float*>(beta),
                         const_cast<void*>(emu::offset(C, i * strideC, Ctype)),
                         Ctype,
                         ldc};
    const cublasStatus_t s =
        emu::run_checked(handle, p, computeType, "cublasGemmStridedBatchedEx (batch " + std::to_string(i) + ")");
    if (s != CUBLAS_STATUS_SUCCESS) return s;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// group_size[g] problems share group g's sizes, transposes, leading dimensions and scalars (host
// arrays); the matrix pointers are one per problem, in device memory, groups one after another.
cublasStatus_t cublasGemmGroupedBatchedEx(cublasHandle_t handle, const cublasOperation_t transa_array[],
                                          const cublasOperation_t transb_array[], const int m_array[],
                                          const int n_array[], const int k_array[], const void* alpha_array,
                                          const void* const Aarray[], cudaDataType_t Atype, const int lda_array[],
                                          const void* const Barray[], cudaDataType_t Btype, const int ldb_array[],
                                          const void* beta_array, void* const Carray[], cudaDataType_t Ctype,
                                          const int ldc_array[], int group_count, const int group_size[],
                                          cublasComputeType_t computeType) {
  if (group_count < 0) return CUBLAS_STATUS_INVALID_VALUE;
  int problems = 0;
  for (int g = 0; g < group_count; ++g) {
    if (group_size[g] < 0) return CUBLAS_STATUS_INVALID_VALUE;
    problems += group_size[g];
  }
  const std::string call = "cublasGemmGroupedBatchedEx";
  const std::size_t pointer_bytes = static_cast<std::size_t>(problems) * sizeof(void*);
  emu::require_device_range(Aarray, pointer_bytes, call + ": Aarray");
  emu::require_device_range(Barray, pointer_bytes, call + ": Barray");
  emu::require_device_range(Carray, pointer_bytes, call + ": Carray");
  const auto* alpha = static_cast<const float*>(alpha_array);
  const auto* beta = static_cast<const float*>(beta_array);
  int i = 0;
  for (int g = 0; g < group_count; ++g) {
    for (int j = 0; j < group_size[g]; ++j, ++i) {
      const emu::Problem p{transa_array[g], transb_array[g], m_array[g], n_array[g], k_array[g], alpha[g],
                           {Aarray[i], Atype, lda_array[g]}, {Barray[i], Btype, ldb_array[g]}, beta[g], Carray[i],
                           Ctype, ldc_array[g]};
      const cublasStatus_t s =
          emu::run_checked(handle, p, computeType, call + " (group " + std::to_string(g) + ")");
      if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS (emulated cuBLAS)";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized (null handle)";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported (by the emulation)";
    default: return "an emulated cuBLAS call returned an error";
  }
}

}  // extern "C"
