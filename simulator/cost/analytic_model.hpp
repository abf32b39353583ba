// The analytic kernel model's parts, exposed for tests and for the interpolation's work measure:
// time = launches x launch overhead + max(FLOPs / (matmul ceiling x efficiency(shape)),
//                                        bytes / (HBM ceiling x fraction(kind))).
// Efficiencies are fractions of the GPU's measured ceilings (GpuSpec::matmul_ceiling,
// hbm_ceiling); the curves come from the H100 measurements in ../shared/ANCHORS.md and are
// applied to other GPUs as the same fractions of their own ceilings (an assumption).
#pragma once

#include <string>

#include "core/units.hpp"
#include "hardware/gpu.hpp"
#include "model/op.hpp"

namespace ecsim {

enum class KernelClass {
  kMatmul,     // gemm, gemm_bias, gemm_wgrad, batched_gemm, batched_gemm_bias, batched_gemm_wgrad,
               // grouped_gemm, grouped_gemm_wgrad
  kAttention,  // attention_fwd, attention_bwd
  kMemory,     // everything else: elementwise, norms, routing, permutes, optimizer
};
KernelClass kernel_class(const std::string& family);
// The families of one product of shape {m, n, k}: gemm, gemm_bias (a linear layer's forward
// with its bias added in the product's epilogue, kernels/gemm_bias.cuh) and gemm_wgrad (a weight
// gradient: x^T dy written to an fp32 gradient, gemm.cuh's gemm_dw); and of `batch` products of one
// shape {batch, m, n, k}: batched_gemm, batched_gemm_bias (a bias per product), batched_gemm_wgrad.
bool is_single_gemm(const std::string& family);
bool is_batched_gemm(const std::string& family);
// The weight-gradient families (gemm_wgrad, batched_gemm_wgrad, grouped_gemm_wgrad): their result
// is an fp32 gradient that the product writes (beta = 0: the runner's first micro-batch of a step;
// a later one's read of the old gradient is priced on top, KernelCall::added_read).
bool is_weight_grad_gemm(const std::string& family);

// Memory-bound kernel kinds, one row each in analytic_model.cpp.
enum class MemoryKernel { kStreaming, kRowReduction, kGather, kRouting, kOptimizer };
struct MemoryKernelRow {
  MemoryKernel kind;
  double hbm_fraction;  // of GpuSpec::hbm_ceiling
  int launches;         // kernels one call launches
  // The least a forward call's kernels take beyond their launches, however few bytes they move
  // (a latency-bound selection); 0: none. Backward calls ("X_bwd") have none.
  double forward_floor_s;
  const char* source;
};
// The row for a family; "X_bwd" uses X's row; unknown families stream.
const MemoryKernelRow& memory_kernel(const std::string& family);

Seconds launch_overhead();
// Fraction of hbm_ceiling a GEMM reaches while it streams its operands (weight-bound shapes).
double matmul_hbm_fraction();

// Fraction of the matmul ceiling a matmul-family kernel of this shape reaches.
double matmul_efficiency(const std::string& family, const OpShape& shape);
// The short-side-equivalent rows of a GEMM (the x of the ANCHORS expert-GEMM curve):
// min(m,n,k) * sqrt(batch * (product of the other two) / (12288 * 3072)).
double gemm_equivalent_rows(double m, double n, double k, double batch);
// Fraction of the matmul ceiling an attention kernel of this shape reaches.
double attention_efficiency(const GpuSpec& gpu, bool backward, const OpShape& shape);

}  // namespace ecsim
