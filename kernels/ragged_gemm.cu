// Ragged groups' products through cuBLASLt (ragged_gemm.cuh), on gemm.cu's column-major mapping
// of row-major buffers, for a group of r rows:
//   forward  y^T [n, r] = w^T [n, k] x^T [k, r]      A = w (n x k), B = x (k x r), D = y (n x r)
//   dx       dx^T [k, r] = w [k, n] dy^T [n, r]       A = w (n x k) transposed, B = dy (n x r), D = dx (k x r)
//   wgrad    dw^T [n, k] = dy^T [n, r] x [r, k]       A = dy (n x r), B = x (k x r) transposed, D = dw (n x k), fp32
//                                                      (kWgradBf16: D bf16)
// every leading dimension the matrix's row count; C = D (beta 1 where a weight gradient accumulates).
#include "ragged_gemm.cuh"

#include <algorithm>
#include <string>
#include <type_traits>

#include "cublas_check.hpp"
#include "cublaslt_algo.cuh"
#include "cuda_check.hpp"
#include "gemm_checks.hpp"

namespace ecsim {
namespace {

// The three layouts of one group's product, destroyed with it.
struct Layouts {
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  Layouts() = default;
  Layouts(const Layouts&) = delete;
  Layouts& operator=(const Layouts&) = delete;
  ~Layouts() {
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (d != nullptr) cublasLtMatrixLayoutDestroy(d);
  }
};

}  // namespace

// A product's descriptor and the algorithm the heuristic chose for it.
struct RaggedGemm::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatmulAlgo_t algo{};
  std::size_t workspace_bytes = 0;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  }
};

namespace {

using Product = RaggedGemm::Product;

// Group rows r of `product`.
void make_layouts(Product product, std::int64_t n, std::int64_t k, std::int64_t r, Layouts& l) {
  switch (product) {
    case Product::kForward:
      l.a = lt_layout(CUDA_R_16BF, n, k), l.b = lt_layout(CUDA_R_16BF, k, r), l.d = lt_layout(CUDA_R_16BF, n, r);
      return;
    case Product::kDx:
      l.a = lt_layout(CUDA_R_16BF, n, k), l.b = lt_layout(CUDA_R_16BF, n, r), l.d = lt_layout(CUDA_R_16BF, k, r);
      return;
    case Product::kWgrad:
    case Product::kWgradBf16:
      l.a = lt_layout(CUDA_R_16BF, n, r), l.b = lt_layout(CUDA_R_16BF, k, r);
      l.d = lt_layout(product == Product::kWgrad ? CUDA_R_32F : CUDA_R_16BF, n, k);
      return;
  }
}

// f(g, first row, rows) for every group, in order.
template <class F>
void for_each_group(const GroupedGemmDims& d, F f) {
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < d.groups; ++g) {
    f(g, first, d.rows[g]);
    first += d.rows[g];
  }
}

// The profile family of each product, in Product's order.
const char* product_name(Product product) {
  static constexpr const char* kNames[] = {"grouped_gemm", "grouped_gemm_dx", "grouped_gemm_wgrad",
                                           "grouped_gemm_wgrad (bf16)"};
  return kNames[static_cast<int>(product)];
}

}  // namespace

RaggedGemm::RaggedGemm() = default;
RaggedGemm::~RaggedGemm() = default;

std::int64_t RaggedGemm::row_bucket(std::int64_t rows) {
  std::int64_t bucket = 16;
  while (bucket < rows) bucket *= 2;
  return bucket;
}

const RaggedGemm::Plan& RaggedGemm::plan(Product product, std::int64_t n, std::int64_t k, std::int64_t rows,
                                         std::uint32_t alignment, bool exact) {
  auto& slot = plans_[{product, n, k, rows, alignment, exact}];
  if (slot) return *slot;
  auto made = std::make_unique<Plan>();
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&made->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // The attributes' types as cublasLt.h gives them: int32_t transposes.
  const bool trans_a = product == Product::kDx;
  const bool trans_b = product == Product::kWgrad || product == Product::kWgradBf16;
  lt_set(made->desc, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<std::int32_t>(trans_a ? CUBLAS_OP_T : CUBLAS_OP_N));
  lt_set(made->desc, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<std::int32_t>(trans_b ? CUBLAS_OP_T : CUBLAS_OP_N));
  Layouts l;
  make_layouts(product, n, k, rows, l);
  ++heuristic_queries_;
  if (!lt_best_algorithm(lt_.handle(), made->desc, l.a, l.b, l.d, l.d, alignment, LtSession::kWorkspaceBytes,
                         made->algo, made->workspace_bytes)) {
    const std::string what = std::string("cublasLtMatmulAlgoGetHeuristic (") + product_name(product) +
                             " n=" + std::to_string(n) + " k=" + std::to_string(k) + " rows=" + std::to_string(rows) +
                             ", " + std::to_string(alignment) + "-byte operands: no algorithm)";
    throw CublasError(CUBLAS_STATUS_NOT_SUPPORTED, what.c_str(), __FILE__, __LINE__);
  }
  slot = std::move(made);
  return *slot;
}

void RaggedGemm::run(cudaStream_t stream, Product product, std::int64_t n, std::int64_t k, std::int64_t rows,
                     const void* a, const void* b, void* d, float beta) {
  const std::uint32_t alignment = std::min({lt_alignment_of(a), lt_alignment_of(b), lt_alignment_of(d)});
  Layouts l;
  make_layouts(product, n, k, rows, l);
  const float alpha = 1.0f;
  const Plan& bucketed = plan(product, n, k, row_bucket(rows), alignment, false);
  const cublasStatus_t s = cublasLtMatmul(lt_.handle(), bucketed.desc, &alpha, a, l.a, b, l.b, &beta, d, l.d, d, l.d,
                                          &bucketed.algo, lt_.workspace(), bucketed.workspace_bytes, stream);
  if (s != CUBLAS_STATUS_NOT_SUPPORTED && s != CUBLAS_STATUS_INVALID_VALUE) {
    CUBLAS_CHECK(s);
    return;
  }
  // The bucket's algorithm does not run these rows: the heuristic's own for them.
  const Plan& own = plan(product, n, k, rows, alignment, true);
  CUBLAS_CHECK(cublasLtMatmul(lt_.handle(), own.desc, &alpha, a, l.a, b, l.b, &beta, d, l.d, d, l.d, &own.algo,
                              lt_.workspace(), own.workspace_bytes, stream));
}

void RaggedGemm::forward(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x,
                         const __nv_bfloat16* w, __nv_bfloat16* y) {
  checked_total_rows("grouped_gemm", d);
  require_aligned("grouped_gemm", {{"x", x}, {"w", w}, {"y", y}});
  for_each_group(d, [&](std::int64_t g, std::int64_t first, std::int64_t r) {
    if (r > 0) run(stream, Product::kForward, d.n, d.k, r, w + g * d.k * d.n, x + first * d.k, y + first * d.n, 0.0f);
  });
}

void RaggedGemm::dx(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* dy, const __nv_bfloat16* w,
                    __nv_bfloat16* dx) {
  checked_total_rows("grouped_gemm_dx", d);
  require_aligned("grouped_gemm_dx", {{"dy", dy}, {"w", w}, {"dx", dx}});
  for_each_group(d, [&](std::int64_t g, std::int64_t first, std::int64_t r) {
    if (r > 0) run(stream, Product::kDx, d.n, d.k, r, w + g * d.k * d.n, dy + first * d.n, dx + first * d.k, 0.0f);
  });
}

template <class Grad>
void RaggedGemm::wgrad_into(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x,
                            const __nv_bfloat16* dy, Grad* dw, GradientWrite write) {
  checked_total_rows("grouped_gemm_wgrad", d);
  require_aligned("grouped_gemm_wgrad", {{"x", x}, {"dy", dy}, {"dw", dw}});
  const float beta = write == GradientWrite::kAccumulate ? 1.0f : 0.0f;
  const Product product = std::is_same_v<Grad, float> ? Product::kWgrad : Product::kWgradBf16;
  for_each_group(d, [&](std::int64_t g, std::int64_t first, std::int64_t r) {
    Grad* dw_g = dw + g * d.k * d.n;  // [k, n]
    if (r > 0) {
      run(stream, product, d.n, d.k, r, dy + first * d.n, x + first * d.k, dw_g, beta);
    } else if (write == GradientWrite::kOverwrite) {
      // No rows: the gradient is the empty sum; all-zero bytes are fp32 and bf16 zeros.
      CUDA_CHECK(cudaMemsetAsync(dw_g, 0, static_cast<std::size_t>(d.k * d.n) * sizeof(Grad), stream));
    }
  });
}

void RaggedGemm::wgrad(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x,
                       const __nv_bfloat16* dy, float* dw, GradientWrite write) {
  wgrad_into(stream, d, x, dy, dw, write);
}

void RaggedGemm::wgrad(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x,
                       const __nv_bfloat16* dy, __nv_bfloat16* dw, GradientWrite write) {
  wgrad_into(stream, d, x, dy, dw, write);
}

}  // namespace ecsim
