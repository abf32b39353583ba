// The cuBLAS calls of kernels/gemm.cu, for the emulated device (README.md, "The emulated device"):
// column-major C = alpha op(A) op(B) + beta C as the cuBLAS documentation defines cublasGemmEx,
// cublasGemmStridedBatchedEx and cublasGemmGroupedBatchedEx, with bf16 or fp32 operands, fp32
// accumulation in k order (CUBLAS_COMPUTE_32F, the only compute type gemm.cu asks for) and one
// rounding to C's type. What it checks is what gemm.cu's index arithmetic could get wrong: the
// arguments cuBLAS validates (CUBLAS_STATUS_INVALID_VALUE, as cuBLAS returns it), and every
// matrix inside one live cudaMalloc allocation (EmulationError otherwise), so that a wrong leading
// dimension, stride or group offset fails here instead of reading a neighbour's rows. beta = 0
// never reads C, as in cuBLAS, so poisoned outputs stay harmless. The tensor cores' own summation
// order is not reproduced; tests compare with tolerances that allow for it.
// The emulator's definitions of CUDA's keywords come before any CUDA header (cuda_emulation.hpp).
#include "emulation/block_runtime.hpp"

#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "emulation/device_memory_registry.hpp"
#include "emulation/emulation_error.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace ecsim::emulation {
namespace {

struct Matrix {
  const void* data;
  cudaDataType_t type;
  int ld;
};

std::size_t element_bytes(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }

bool supported(cudaDataType_t t) { return t == CUDA_R_16BF || t == CUDA_R_32F; }

float load(const Matrix& a, std::int64_t index) {
  if (a.type == CUDA_R_32F) return static_cast<const float*>(a.data)[index];
  return __bfloat162float(static_cast<const __nv_bfloat16*>(a.data)[index]);
}

// The bytes a column-major rows x cols matrix with leading dimension ld spans.
std::size_t span_bytes(int rows, int cols, int ld, cudaDataType_t t) {
  if (rows == 0 || cols == 0) return 0;
  return (static_cast<std::size_t>(cols - 1) * static_cast<std::size_t>(ld) + static_cast<std::size_t>(rows)) *
         element_bytes(t);
}

struct Problem {
  cublasOperation_t trans_a, trans_b;
  int m, n, k;
  float alpha;
  Matrix a, b;
  float beta;
  void* c;
  cudaDataType_t c_type;
  int ldc;
};

// cuBLAS's argument checks for one problem (cublasGemmEx, "Error Values").
cublasStatus_t validate(const Problem& p) {
  const bool transposes_ok = (p.trans_a == CUBLAS_OP_N || p.trans_a == CUBLAS_OP_T) &&
                             (p.trans_b == CUBLAS_OP_N || p.trans_b == CUBLAS_OP_T);
  if (!transposes_ok || p.m < 0 || p.n < 0 || p.k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const int a_rows = p.trans_a == CUBLAS_OP_N ? p.m : p.k;
  const int b_rows = p.trans_b == CUBLAS_OP_N ? p.k : p.n;
  if (p.a.ld < std::max(1, a_rows) || p.b.ld < std::max(1, b_rows) || p.ldc < std::max(1, p.m)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (!supported(p.a.type) || !supported(p.b.type) || !supported(p.c_type)) return CUBLAS_STATUS_NOT_SUPPORTED;
  return CUBLAS_STATUS_SUCCESS;
}

void require_operands_in_memory(const Problem& p, const std::string& call) {
  const bool a_n = p.trans_a == CUBLAS_OP_N, b_n = p.trans_b == CUBLAS_OP_N;
  require_device_range(p.a.data, span_bytes(a_n ? p.m : p.k, a_n ? p.k : p.m, p.a.ld, p.a.type), call + ": A");
  require_device_range(p.b.data, span_bytes(b_n ? p.k : p.n, b_n ? p.n : p.k, p.b.ld, p.b.type), call + ": B");
  require_device_range(p.c, span_bytes(p.m, p.n, p.ldc, p.c_type), call + ": C");
}

void run(const Problem& p) {
  const std::int64_t lda = p.a.ld, ldb = p.b.ld, ldc = p.ldc;
  const bool a_n = p.trans_a == CUBLAS_OP_N, b_n = p.trans_b == CUBLAS_OP_N;
  const Matrix c{p.c, p.c_type, p.ldc};
  for (std::int64_t j = 0; j < p.n; ++j) {
    for (std::int64_t i = 0; i < p.m; ++i) {
      float sum = 0.0f;
      for (std::int64_t l = 0; l < p.k; ++l) {
        sum += load(p.a, a_n ? i + l * lda : l + i * lda) * load(p.b, b_n ? l + j * ldb : j + l * ldb);
      }
      const std::int64_t at = i + j * ldc;
      const float value = p.alpha * sum + (p.beta == 0.0f ? 0.0f : p.beta * load(c, at));
      if (p.c_type == CUDA_R_32F) {
        static_cast<float*>(p.c)[at] = value;
      } else {
        static_cast<__nv_bfloat16*>(p.c)[at] = __float2bfloat16(value);
      }
    }
  }
}

cublasStatus_t run_checked(cublasHandle_t handle, const Problem& p, cublasComputeType_t compute,
                           const std::string& call) {
  if (detail::running_thread != nullptr) {
    std::string what = call + " inside a running kernel";
    detail::fail(std::move(what));
  }
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (const cublasStatus_t s = validate(p); s != CUBLAS_STATUS_SUCCESS) return s;
  require_operands_in_memory(p, call);
  run(p);
  return CUBLAS_STATUS_SUCCESS;
}

const void* offset(const void* p, long long elements, cudaDataType_t t) {
  return static_cast<const char*>(p) + elements * static_cast<long long>(element_bytes(t));
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
