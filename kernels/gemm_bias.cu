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
#include "cublaslt_algo.cuh"
#include "cuda_check.hpp"
#include "gemm_checks.hpp"

namespace ecsim {

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

GemmBias::GemmBias() = default;
GemmBias::~GemmBias() = default;

// The heuristic's best algorithm for p's descriptors as they stand; false where it has none.
bool GemmBias::choose(Plan& p, std::uint32_t alignment) {
  return lt_best_algorithm(lt_.handle(), p.desc, p.a, p.b, p.d, p.d, alignment, LtSession::kWorkspaceBytes, p.algo,
                           p.workspace_bytes);
}

const GemmBias::Plan& GemmBias::plan(std::int64_t batch, const GemmDims& g, std::uint32_t alignment,
                                     const void* bias) {
  auto& slot = plans_[{batch, g.m, g.n, g.k, alignment}];
  if (slot) return *slot;
  auto p = std::make_unique<Plan>();
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // The attributes' types as cublasLt.h gives them: int32_t transposes, uint32_t epilogue.
  lt_set(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<std::int32_t>(CUBLAS_OP_N));
  lt_set(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<std::int32_t>(CUBLAS_OP_N));
  lt_set(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(CUBLASLT_EPILOGUE_BIAS));
  // The heuristic reads the bias pointer's alignment (cublasLt.h); run() sets each call's own.
  lt_set(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  if (batch > 1) lt_set(p->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, static_cast<std::int64_t>(g.n));
  p->a = lt_layout(CUDA_R_16BF, g.n, g.k, batch);
  p->b = lt_layout(CUDA_R_16BF, g.k, g.m, batch);
  p->d = lt_layout(CUDA_R_16BF, g.n, g.m, batch);
  if (!choose(*p, alignment)) {
    // No fused algorithm for this shape (PyTorch falls back alike): the product, then bias_add.
    lt_set(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(CUBLASLT_EPILOGUE_DEFAULT));
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
      std::min({lt_alignment_of(x), lt_alignment_of(w), lt_alignment_of(bias), lt_alignment_of(y)});
  const Plan& p = plan(batch, g, alignment, bias);
  if (p.fused) lt_set(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<const void*>(bias));
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(lt_.handle(), p.desc, &alpha, w, p.a, x, p.b, &beta, y, p.d, y, p.d, &p.algo,
                              lt_.workspace(), p.workspace_bytes, stream));
  if (!p.fused) bias_add(y, bias, batch, g.m, g.n, stream);
}

}  // namespace ecsim
