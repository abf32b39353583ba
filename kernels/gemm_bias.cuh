// Launchers for ops `gemm_bias` and `batched_gemm_bias`: a linear layer's forward with its bias,
// y [m, n] = x [m, k] w [k, n] + bias [n], as one cuBLASLt matmul whose epilogue adds the bias
// (CUBLASLT_EPILOGUE_BIAS) in fp32 before y's one rounding to bf16, the way PyTorch's nn.Linear runs
// on CUDA (addmm through cuBLASLt); and the same over `batch` experts of one shape (expert choice),
// one strided-batched matmul with a bias per expert. Against gemm or batched_gemm (gemm.cuh)
// followed by bias_add (bias.cuh) it saves the bias kernel's read and write of y. Implementation
// in gemm_bias.cu; CPU reference: ref/gemm.hpp (ref::gemm with its bias). Test: ctest -R gemm
// (tests/kernels/gemm_gpu_test.cpp).
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
#include "gemm.cuh"           // GemmDims

namespace ecsim {

// Owns a cuBLASLt session (handle and workspace, cublaslt_algo.cuh) and, per shape and operand
// alignment, the matmul descriptors and the algorithm cuBLASLt's heuristic chose (asked once, not
// at every call). Calls share the workspace: run them on one stream at a time.
class GemmBias {
 public:
  GemmBias();  // the session on the current device
  ~GemmBias();
  GemmBias(const GemmBias&) = delete;
  GemmBias& operator=(const GemmBias&) = delete;

  // Preconditions as gemm's (gemm.cuh: n and k multiples of 8, operands 16-byte aligned), the bias
  // aligned alike. A shape for which cuBLASLt's heuristic offers no algorithm with the bias
  // epilogue runs as the product then bias_add (bias.cuh), as PyTorch falls back too; such shapes
  // are counted (unfused_shapes), for the tools to say so. Throws PreconditionError, or
  // CublasError where cuBLASLt fails or offers no algorithm even without the epilogue.
  void run(cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x, const __nv_bfloat16* w,
           const __nv_bfloat16* bias, __nv_bfloat16* y);
  // x [B, m, k], w [B, k, n], bias [B, n], y [B, m, n]: y[b] = x[b] w[b] + bias[b].
  void run_batched(cudaStream_t stream, std::int64_t batch, const GemmDims& d, const __nv_bfloat16* x,
                   const __nv_bfloat16* w, const __nv_bfloat16* bias, __nv_bfloat16* y);
  // How many of the shapes run so far (per operand alignment) had no fused algorithm.
  std::int64_t unfused_shapes() const { return unfused_shapes_; }

 private:
  struct Plan;
  // batch, m, n, k and the alignment in bytes every operand shares (16..256): cuBLASLt picks
  // algorithms for the alignment it is told of.
  using PlanKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::uint32_t>;
  const Plan& plan(std::int64_t batch, const GemmDims& d, std::uint32_t alignment, const void* bias);
  bool choose(Plan& p, std::uint32_t alignment);

  LtSession lt_;  // before plans_: released after them
  std::map<PlanKey, std::unique_ptr<Plan>> plans_;
  std::int64_t unfused_shapes_ = 0;
};

}  // namespace ecsim
