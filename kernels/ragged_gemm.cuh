// Ragged groups' products (op `grouped_gemm` and its weight gradient `grouped_gemm_wgrad`: token
// choice without a capacity, group g holding rows[g] tokens) as a loop of cuBLASLt matmuls whose
// algorithm is chosen once per (product, n, k, row bucket, operand alignment): the rows of a group
// change from step to step with the routing, and cublasGemmEx (gemm.cu's loop) asks cuBLAS's
// heuristic again for every shape it has not seen. On an H100 (2026-11-27) that cost 0.4 to
// 0.6 ms of host time per product, against 10 to 30 us of GPU work: the dropless step ran 7.5x
// the predicted time. A row bucket is the smallest power of two holding the rows (at least 16);
// the algorithm chosen for the bucket runs the group's own rows, and a group for which cuBLASLt
// refuses it asks the heuristic for its exact shape (remembered too). Same preconditions and
// layouts as gemm.cuh's grouped launchers (row-major, bf16 operands, fp32 accumulation; n and k
// multiples of 8, operands 16-byte aligned). Implementation in ragged_gemm.cu; CPU reference
// ref/gemm.hpp (grouped_gemm, grouped_gemm_bwd). Test: ctest -R gemm.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "cublaslt_algo.cuh"  // LtSession
#include "gemm.cuh"           // GroupedGemmDims, GradientWrite

namespace ecsim {

class RaggedGemm {
 public:
  RaggedGemm();  // its cuBLASLt session (cublaslt_algo.cuh) on the current device
  ~RaggedGemm();
  RaggedGemm(const RaggedGemm&) = delete;
  RaggedGemm& operator=(const RaggedGemm&) = delete;

  // y_g [rows_g, n] = x_g [rows_g, k] w[g] [k, n].
  void forward(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x, const __nv_bfloat16* w,
               __nv_bfloat16* y);
  // dx_g [rows_g, k] = dy_g [rows_g, n] w[g]^T.
  void dx(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* dy, const __nv_bfloat16* w,
          __nv_bfloat16* dx);
  // dw[g] [k, n] (=|+=) x_g^T dy_g, fp32 or bf16 (gemm.cuh's gemm_dw); an empty group's dw[g] is
  // zeroed by kOverwrite, kept by kAccumulate.
  void wgrad(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x, const __nv_bfloat16* dy,
             float* dw, GradientWrite write);
  void wgrad(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x, const __nv_bfloat16* dy,
             __nv_bfloat16* dw, GradientWrite write);

  // A group's products (the layouts ragged_gemm.cu's header comment draws); the weight gradient's
  // two for its fp32 and bf16 storage.
  enum class Product { kForward, kDx, kWgrad, kWgradBf16 };

  // How many times cuBLASLt's heuristic has been asked (per bucket, and per exact shape refused).
  std::int64_t heuristic_queries() const { return heuristic_queries_; }
  // The smallest power of two holding `rows`, at least 16.
  static std::int64_t row_bucket(std::int64_t rows);

 private:
  struct Plan;
  // product, n, k, rows (a bucket, or a group's exact rows), operand alignment, exact
  using PlanKey = std::tuple<Product, std::int64_t, std::int64_t, std::int64_t, std::uint32_t, bool>;
  // One group's product: D = op(A) op(B) (+ D when beta is 1), `rows` its group's rows.
  void run(cudaStream_t stream, Product product, std::int64_t n, std::int64_t k, std::int64_t rows, const void* a,
           const void* b, void* d, float beta);
  const Plan& plan(Product product, std::int64_t n, std::int64_t k, std::int64_t rows, std::uint32_t alignment,
                   bool exact);
  template <class Grad>
  void wgrad_into(cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x, const __nv_bfloat16* dy,
                  Grad* dw, GradientWrite write);

  LtSession lt_;  // before plans_: released after them
  std::map<PlanKey, std::unique_ptr<Plan>> plans_;
  std::int64_t heuristic_queries_ = 0;
};

}  // namespace ecsim
