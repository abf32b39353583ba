// Op `gemm_bias` through cuBLASLt (gemm_bias.cuh). As in gemm.cu, the row-major y = x w is the
// column-major y^T [n, m] = w^T [n, k] x^T [k, m]: A = w (ld n), B = x (ld k), D = y (ld n), no
// transposes. The bias is then one value per row of D, the length-n vector cuBLASLt's
// CUBLASLT_EPILOGUE_BIAS broadcasts along D's columns, in D's type (bf16, the default bias type).
// C = D with beta = 0: cuBLASLt then never reads C. A batch strides every matrix by its size
// (CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, _STRIDED_BATCH_OFFSET) and the bias by n
// (CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE): one bias per expert. Where the heuristic offers no algorithm with
// the bias epilogue for a shape, that shape runs as the product then bias_add (bias.cuh), counted.
#include "gemm_bias.cuh"

#include <algorithm>
#include <string>

#include "bias.cuh"
#include "cublas_check.hpp"
#include "cuda_check.hpp"
#include "gemm_checks.hpp"

namespace ecsim {
namespace {

// The largest alignment cuBLASLt's heuristic is told of (its own default assumption).
constexpr std::uint32_t kMaxAlignment = 256;

std::uint32_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if (address == 0) return kMaxAlignment;
  return static_cast<std::uint32_t>(std::min<std::uintptr_t>(address & (~address + 1), kMaxAlignment));
}

template <class T>
void set(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value) {
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)));
}

// A column-major rows x cols bf16 matrix (ld rows), `batch` of them `rows * cols` elements apart.
cublasLtMatrixLayout_t layout(std::int64_t rows, std::int64_t cols, std::int64_t batch) {
  cublasLtMatrixLayout_t l = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, CUDA_R_16BF, static_cast<std::uint64_t>(rows),
                                          static_cast<std::uint64_t>(cols), rows));
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

}  // namespace

// Descriptors of one shape and the algorithm the heuristic chose for them.
struct GemmBias::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  std::size_t workspace_bytes = 0;
  bool fused = true;  // false: the epilogue adds nothing and bias_add follows

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (d != nullptr) cublasLtMatrixLayoutDestroy(d);
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  }
};

GemmBias::GemmBias() {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
  if (const cudaError_t e = cudaMalloc(&workspace_, kWorkspaceBytes); e != cudaSuccess) {
    cublasLtDestroy(handle_);
    CUDA_CHECK(e);
  }
}

GemmBias::~GemmBias() {
  plans_.clear();
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

// The heuristic's best algorithm for p's descriptors as they stand; false where it has none.
bool GemmBias::choose(Plan& p, std::uint32_t alignment) {
  cublasLtMatmulPreference_t preference = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = [&] {
    const std::uint64_t workspace = kWorkspaceBytes;
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
    return cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.a, p.b, p.d, p.d, preference, 1, &result, &found);
  }();
  cublasLtMatmulPreferenceDestroy(preference);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) return false;
  CUBLAS_CHECK(status);
  if (found == 0) return false;
  p.algo = result.algo;
  p.workspace_bytes = result.workspaceSize;
  return true;
}

const GemmBias::Plan& GemmBias::plan(std::int64_t batch, const GemmDims& g, std::uint32_t alignment,
                                     const void* bias) {
  auto& slot = plans_[{batch, g.m, g.n, g.k, alignment}];
  if (slot) return *slot;
  auto p = std::make_unique<Plan>();
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // The attributes' types as cublasLt.h gives them: int32_t transposes, uint32_t epilogue.
  set(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<std::int32_t>(CUBLAS_OP_N));
  set(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<std::int32_t>(CUBLAS_OP_N));
  set(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(CUBLASLT_EPILOGUE_BIAS));
  // The heuristic reads the bias pointer's alignment (cublasLt.h); run() sets each call's own.
  set(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  if (batch > 1) set(p->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, static_cast<std::int64_t>(g.n));
  p->a = layout(g.n, g.k, batch);
  p->b = layout(g.k, g.m, batch);
  p->d = layout(g.n, g.m, batch);
  if (!choose(*p, alignment)) {
    // No fused algorithm for this shape (PyTorch falls back alike): the product, then bias_add.
    set(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(CUBLASLT_EPILOGUE_DEFAULT));
    p->fused = false;
    if (!choose(*p, alignment)) {
      const std::string what = "cublasLtMatmulAlgoGetHeuristic (gemm_bias batch=" + std::to_string(batch) +
                               " m=" + std::to_string(g.m) +
                               " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) + ", " +
                               std::to_string(alignment) + "-byte operands: no algorithm, with or without the bias)";
      throw CublasError(CUBLAS_STATUS_NOT_SUPPORTED, what.c_str(), __FILE__, __LINE__);
    }
  }
  if (!p->fused) ++unfused_shapes_;
  slot = std::move(p);
  return *slot;
}

void GemmBias::run(cudaStream_t stream, const GemmDims& g, const __nv_bfloat16* x, const __nv_bfloat16* w,
                   const __nv_bfloat16* bias, __nv_bfloat16* y) {
  run_batched(stream, 1, g, x, w, bias, y);
}

void GemmBias::run_batched(cudaStream_t stream, std::int64_t batch, const GemmDims& g, const __nv_bfloat16* x,
                           const __nv_bfloat16* w, const __nv_bfloat16* bias, __nv_bfloat16* y) {
  const char* op = batch == 1 ? "gemm_bias" : "batched_gemm_bias";
  require_positive(batch, op, "batch");
  require_int32(batch, op, "batch");
  require_dims(op, g.m, g.n, g.k);
  require_aligned(op, {{"x", x}, {"w", w}, {"bias", bias}, {"y", y}});
  const std::uint32_t alignment =
      std::min({alignment_of(x), alignment_of(w), alignment_of(bias), alignment_of(y)});
  const Plan& p = plan(batch, g, alignment, bias);
  if (p.fused) set(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<const void*>(bias));
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(handle_, p.desc, &alpha, w, p.a, x, p.b, &beta, y, p.d, y, p.d, &p.algo, workspace_,
                              p.workspace_bytes, stream));
  if (!p.fused) bias_add(y, bias, batch, g.m, g.n, stream);
}

}  // namespace ecsim
