// The emulated cuBLAS's and cuBLASLt's matrix product (gemm_problem.hpp). The tensor cores' own
// summation order is not reproduced; tests compare with tolerances that allow for it.
// The emulator's definitions of CUDA's keywords come before any CUDA header (cuda_emulation.hpp).
#include "emulation/block_runtime.hpp"

#include "emulation/gemm_problem.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "emulation/device_memory_registry.hpp"
#include "emulation/emulation_error.hpp"

namespace ecsim::emulation {
namespace {

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
  if (p.bias != nullptr) require_device_range(p.bias, span_bytes(p.m, 1, p.m, p.c_type), call + ": bias");
}

void run(const Problem& p) {
  const std::int64_t lda = p.a.ld, ldb = p.b.ld, ldc = p.ldc;
  const bool a_n = p.trans_a == CUBLAS_OP_N, b_n = p.trans_b == CUBLAS_OP_N;
  const Matrix c{p.c, p.c_type, p.ldc};
  const Matrix bias{p.bias, p.c_type, p.m};
  for (std::int64_t j = 0; j < p.n; ++j) {
    for (std::int64_t i = 0; i < p.m; ++i) {
      float sum = 0.0f;
      for (std::int64_t l = 0; l < p.k; ++l) {
        sum += load(p.a, a_n ? i + l * lda : l + i * lda) * load(p.b, b_n ? l + j * ldb : j + l * ldb);
      }
      const std::int64_t at = i + j * ldc;
      const float value = p.alpha * sum + (p.beta == 0.0f ? 0.0f : p.beta * load(c, at)) +
                          (p.bias == nullptr ? 0.0f : load(bias, i));
      if (p.c_type == CUDA_R_32F) {
        static_cast<float*>(p.c)[at] = value;
      } else {
        static_cast<__nv_bfloat16*>(p.c)[at] = __float2bfloat16(value);
      }
    }
  }
}

}  // namespace

cublasStatus_t run_problem(const Problem& p, cublasComputeType_t compute, const std::string& call) {
  if (detail::running_thread != nullptr) {
    std::string what = call + " inside a running kernel";
    detail::fail(std::move(what));
  }
  if (compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (const cublasStatus_t s = validate(p); s != CUBLAS_STATUS_SUCCESS) return s;
  require_operands_in_memory(p, call);
  run(p);
  return CUBLAS_STATUS_SUCCESS;
}

const void* offset(const void* p, long long elements, cudaDataType_t t) {
  return static_cast<const char*>(p) + elements * static_cast<long long>(element_bytes(t));
}

}  // namespace ecsim::emulation
