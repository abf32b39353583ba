// Matrix products through cuBLAS (ops `gemm`, `batched_gemm`, `grouped_gemm`, `grouped_gemm_wgrad`):
//   gemm          y [m, n] = x [m, k] w [k, n];  dx [m, k] = dy w^T;  dw [k, n] = x^T dy (fp32)
//   batched_gemm  the same over B problems of one shape: one cublasGemmStridedBatchedEx call
//   grouped_gemm  ragged groups of rows sharing n and k, weights w [G, k, n]: a loop of
//                 cublasGemmEx on one stream, or one cublasGemmGroupedBatchedEx (GroupedGemmMethod)
// cuBLAS is column-major, and a row-major [r, c] buffer is the column-major [c, r] matrix, its
// transpose. So the row-major y = x w is the column-major y^T = w^T x^T: cuBLAS computes
// C [n, m] = A [n, k] B [k, m] with A = w (ld n), B = x (ld k), C = y (ld n), no transposes, and
// no copy is ever made. Likewise dx^T [k, m] = w dy^T: A = w transposed (ld n), B = dy (ld n),
// C = dx (ld k); and dw^T [n, k] = dy^T x: A = dy (ld n), B = x transposed (ld k), C = dw (ld n).
// bf16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F runs bf16 on the tensor cores).
// CPU reference: ref/gemm.hpp. Test: ctest -R gemm (tests/kernels/gemm_gpu_test.cpp; skipped
// without a GPU).
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "cublas_check.hpp"
#include "cuda_check.hpp"
#include "gemm.cuh"
#include "gemm_checks.hpp"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr cublasComputeType_t kCompute = CUBLAS_COMPUTE_32F;
constexpr int kOperands = 3;  // cuBLAS's A, B and C

// Where each group's matrix of one operand starts: base + group index * group_bytes (the weights)
// + rows before the group * row_bytes (the activations).
struct GroupedOperand {
  unsigned long long base;
  long long group_bytes;
  long long row_bytes;
};

// Passed by value (about 2 KB, inside the 4 KB kernel-parameter limit of every CUDA version).
struct GroupedPointerArgs {
  GroupedOperand operand[kOperands];
  int groups;
  int rows[kMaxGroupedBatchedGroups];
};

// grid 1 x 1. Writes the matrix pointers of the groups that have rows, in group order:
// out [3][G] (A, B, C), the first `non-empty groups` entries of each row. G <= 512 steps of a
// running row sum: a few microseconds, stream-ordered before the grouped call that reads them.
__global__ void grouped_pointers_kernel(GroupedPointerArgs args, void** __restrict__ out) {
  long long first = 0;
  int j = 0;
  for (int g = 0; g < args.groups; ++g) {
    if (args.rows[g] > 0) {
      for (int o = 0; o < kOperands; ++o) {
        const GroupedOperand& op = args.operand[o];
        out[o * args.groups + j] = reinterpret_cast<void*>(op.base + g * op.group_bytes + first * op.row_bytes);
      }
      ++j;
    }
    first += args.rows[g];
  }
}

// One column-major cuBLAS problem C = op(A) op(B) (+ C when beta = 1), with batch strides for
// the strided-batched call.
struct ColumnMajorGemm {
  cublasOperation_t trans_a, trans_b;
  int m, n, k;
  const void* a;
  int lda;
  const void* b;
  int ldb;
  void* c;
  cudaDataType_t c_type;
  int ldc;
  float beta;
  long long stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch entries
};

int i32(std::int64_t v) { return static_cast<int>(v); }  // range checked by the launchers

// y [m, n] = x [m, k] w [k, n]  <=>  y^T [n, m] = w^T [n, k] x^T [k, m]
ColumnMajorGemm forward_problem(const GemmDims& d, const void* x, const void* w, void* y, cudaDataType_t y_type) {
  return {CUBLAS_OP_N, CUBLAS_OP_N, i32(d.n), i32(d.m), i32(d.k), w, i32(d.n), x, i32(d.k), y, y_type, i32(d.n),
          0.0f, d.k * d.n, d.m * d.k, d.m * d.n};
}

// dx [m, k] = dy [m, n] w^T  <=>  dx^T [k, m] = w [k, n] dy^T [n, m]
ColumnMajorGemm dx_problem(const GemmDims& d, const void* dy, const void* w, void* dx,
                           GradientWrite write = GradientWrite::kOverwrite) {
  return {CUBLAS_OP_T, CUBLAS_OP_N, i32(d.k), i32(d.m), i32(d.n), w, i32(d.n), dy, i32(d.n), dx, CUDA_R_16BF,
          i32(d.k), write == GradientWrite::kAccumulate ? 1.0f : 0.0f, d.k * d.n, d.m * d.n, d.m * d.k};
}

// dw [k, n] = x^T [k, m] dy [m, n]  <=>  dw^T [n, k] = dy^T [n, m] x [m, k]
ColumnMajorGemm dw_problem(const GemmDims& d, const void* x, const void* dy, void* dw, cudaDataType_t dw_type,
                           GradientWrite write) {
  return {CUBLAS_OP_N, CUBLAS_OP_T, i32(d.n), i32(d.k), i32(d.m), dy, i32(d.n), x, i32(d.k), dw, dw_type,
          i32(d.n), write == GradientWrite::kAccumulate ? 1.0f : 0.0f, d.m * d.n, d.m * d.k, d.k * d.n};
}

// The cuBLAS type of a weight gradient's storage.
template <class Grad>
cudaDataType_t gradient_type() {
  static_assert(std::is_same_v<Grad, float> || std::is_same_v<Grad, __nv_bfloat16>);
  return std::is_same_v<Grad, float> ? CUDA_R_32F : CUDA_R_16BF;
}

void run_gemm(cublasHandle_t handle, const ColumnMajorGemm& p) {
  const float alpha = 1.0f;
  CUBLAS_CHECK(cublasGemmEx(handle, p.trans_a, p.trans_b, p.m, p.n, p.k, &alpha, p.a, CUDA_R_16BF, p.lda, p.b,
                            CUDA_R_16BF, p.ldb, &p.beta, p.c, p.c_type, p.ldc, kCompute, CUBLAS_GEMM_DEFAULT));
}

void run_strided_batched(cublasHandle_t handle, const ColumnMajorGemm& p, std::int64_t batch) {
  const float alpha = 1.0f;
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, p.trans_a, p.trans_b, p.m, p.n, p.k, &alpha, p.a, CUDA_R_16BF,
                                          p.lda, p.stride_a, p.b, CUDA_R_16BF, p.ldb, p.stride_b, &p.beta, p.c,
                                          p.c_type, p.ldc, p.stride_c, i32(batch), kCompute, CUBLAS_GEMM_DEFAULT));
}

void require_handle(const char* op, cublasHandle_t handle) {
  require(handle != nullptr, std::string(op) + ": cuBLAS handle is null");
}

// What every launcher checks last, after its sizes: a handle, aligned operands; then the handle
// runs on `stream`.
void bind_call(const char* op, cublasHandle_t handle, cudaStream_t stream,
               std::initializer_list<NamedPointer> buffers) {
  require_handle(op, handle);
  require_aligned(op, buffers);
  CUBLAS_CHECK(cublasSetStream(handle, stream));
}

void require_batch(const char* op, std::int64_t batch) {
  require_positive(batch, op, "batch");
  require_int32(batch, op, "batch");
}

void require_workspace(const char* op, GroupedGemmMethod method, const GroupedGemmDims& d, const void* workspace,
                       std::size_t workspace_bytes) {
  if (method != GroupedGemmMethod::kGroupedBatched) return;
  require(d.groups <= kMaxGroupedBatchedGroups, std::string(op) + ": " + std::to_string(d.groups) +
                                                    " groups exceed the grouped-batched limit of " +
                                                    std::to_string(kMaxGroupedBatchedGroups));
  require(workspace != nullptr, std::string(op) + ": the grouped-batched method needs a workspace");
  require(reinterpret_cast<std::uintptr_t>(workspace) % alignof(void*) == 0,
          std::string(op) + ": workspace is not pointer-aligned");
  require(workspace_bytes >= grouped_gemm_workspace_bytes(d.groups),
          std::string(op) + ": workspace of " + std::to_string(workspace_bytes) + " bytes, needs " +
              std::to_string(grouped_gemm_workspace_bytes(d.groups)));
}

// One cublasGemmGroupedBatchedEx over the groups that have rows, one problem per group. `proto`
// gives the transposes, sizes and leading dimensions, `operands` where each group's matrices
// start. In the forward and dx problems alike the group's rows are cuBLAS's n.
void run_grouped_batched(cublasHandle_t handle, cudaStream_t stream, const GroupedGemmDims& d,
                         const ColumnMajorGemm& proto, const GroupedOperand (&operands)[kOperands], void* workspace) {
  GroupedPointerArgs args{};
  for (int o = 0; o < kOperands; ++o) args.operand[o] = operands[o];
  args.groups = i32(d.groups);
  int count = 0;
  for (std::int64_t g = 0; g < d.groups; ++g) {
    args.rows[g] = i32(d.rows[g]);
    count += d.rows[g] > 0;
  }
  void** pointers = static_cast<void**>(workspace);  // [3][G]
  CUDA_CHECK(launch_kernel(grouped_pointers_kernel, 1, 1, 0, stream, args, pointers));

  // Problem sizes, transposes and scalars are host arrays, one entry per group of one problem.
  const auto n_count = static_cast<std::size_t>(count);
  std::vector<cublasOperation_t> trans_a(n_count, proto.trans_a), trans_b(n_count, proto.trans_b);
  std::vector<int> m(n_count, proto.m), n(n_count, proto.n), k(n_count, proto.k);
  std::vector<int> lda(n_count, proto.lda), ldb(n_count, proto.ldb), ldc(n_count, proto.ldc), size(n_count, 1);
  std::vector<float> alpha(n_count, 1.0f), beta(n_count, proto.beta);
  int j = 0;
  for (std::int64_t g = 0; g < d.groups; ++g) {
    if (d.rows[g] == 0) continue;
    n[static_cast<std::size_t>(j++)] = i32(d.rows[g]);
  }
  const auto groups = static_cast<std::size_t>(d.groups);
  CUBLAS_CHECK(cublasGemmGroupedBatchedEx(
      handle, trans_a.data(), trans_b.data(), m.data(), n.data(), k.data(), alpha.data(),
      const_cast<const void* const*>(pointers), CUDA_R_16BF, lda.data(),
      const_cast<const void* const*>(pointers + groups), CUDA_R_16BF, ldb.data(), beta.data(),
      pointers + 2 * groups, proto.c_type, ldc.data(), count, size.data(), kCompute));
}

unsigned long long address(const void* p) { return reinterpret_cast<unsigned long long>(p); }

// A grouped call's groups, by `method`: one cublasGemmGroupedBatchedEx over `operands`, or
// cublasGemmEx on each group that has rows. problem(rows, first row, g) is group g's product; the
// grouped-batched call takes its transposes, sizes and leading dimensions from problem(1, 0, 0).
template <class Problem>
void run_groups(cublasHandle_t handle, cudaStream_t stream, GroupedGemmMethod method, const GroupedGemmDims& d,
                const GroupedOperand (&operands)[kOperands], void* workspace, Problem problem) {
  if (method == GroupedGemmMethod::kGroupedBatched) {
    run_grouped_batched(handle, stream, d, problem(1, 0, 0), operands, workspace);
    return;
  }
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < d.groups; ++g) {
    if (d.rows[g] > 0) run_gemm(handle, problem(d.rows[g], first, g));
    first += d.rows[g];
  }
}

}  // namespace

const char* grouped_gemm_method_name(GroupedGemmMethod method) {
  switch (method) {
    case GroupedGemmMethod::kGemmLoop: return "gemm_loop";
    case GroupedGemmMethod::kGroupedBatched: return "grouped_batched";
  }
  return "unknown";
}

std::size_t grouped_gemm_workspace_bytes(std::int64_t groups) {
  return static_cast<std::size_t>(kOperands * groups) * sizeof(void*);
}

void gemm(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
          const __nv_bfloat16* w, __nv_bfloat16* y) {
  require_dims("gemm", d.m, d.n, d.k);
  bind_call("gemm", handle, stream, {{"x", x}, {"w", w}, {"y", y}});
  run_gemm(handle, forward_problem(d, x, w, y, CUDA_R_16BF));
}

void gemm(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
          const __nv_bfloat16* w, float* y) {
  require_dims("gemm", d.m, d.n, d.k);
  bind_call("gemm", handle, stream, {{"x", x}, {"w", w}, {"y", y}});
  run_gemm(handle, forward_problem(d, x, w, y, CUDA_R_32F));
}

void gemm_dx(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* dy,
             const __nv_bfloat16* w, __nv_bfloat16* dx, GradientWrite write) {
  require_dims("gemm_dx", d.m, d.n, d.k);
  bind_call("gemm_dx", handle, stream, {{"dy", dy}, {"w", w}, {"dx", dx}});
  run_gemm(handle, dx_problem(d, dy, w, dx, write));
}

template <class Grad>
void gemm_dw_into(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
                  const __nv_bfloat16* dy, Grad* dw, GradientWrite write) {
  require_dims("gemm_dw", d.m, d.n, d.k);
  bind_call("gemm_dw", handle, stream, {{"x", x}, {"dy", dy}, {"dw", dw}});
  run_gemm(handle, dw_problem(d, x, dy, dw, gradient_type<Grad>(), write));
}

void gemm_dw(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
             const __nv_bfloat16* dy, float* dw, GradientWrite write) {
  gemm_dw_into(handle, stream, d, x, dy, dw, write);
}

void gemm_dw(cublasHandle_t handle, cudaStream_t stream, const GemmDims& d, const __nv_bfloat16* x,
             const __nv_bfloat16* dy, __nv_bfloat16* dw, GradientWrite write) {
  gemm_dw_into(handle, stream, d, x, dy, dw, write);
}

void batched_gemm(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                  const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y) {
  require_batch("batched_gemm", batch);
  require_dims("batched_gemm", d.m, d.n, d.k);
  bind_call("batched_gemm", handle, stream, {{"x", x}, {"w", w}, {"y", y}});
  run_strided_batched(handle, forward_problem(d, x, w, y, CUDA_R_16BF), batch);
}

void batched_gemm_dx(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                     const __nv_bfloat16* dy, const __nv_bfloat16* w, __nv_bfloat16* dx) {
  require_batch("batched_gemm_dx", batch);
  require_dims("batched_gemm_dx", d.m, d.n, d.k);
  bind_call("batched_gemm_dx", handle, stream, {{"dy", dy}, {"w", w}, {"dx", dx}});
  run_strided_batched(handle, dx_problem(d, dy, w, dx), batch);
}

template <class Grad>
void batched_gemm_dw_into(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                          const __nv_bfloat16* x, const __nv_bfloat16* dy, Grad* dw, GradientWrite write) {
  require_batch("batched_gemm_dw", batch);
  require_dims("batched_gemm_dw", d.m, d.n, d.k);
  bind_call("batched_gemm_dw", handle, stream, {{"x", x}, {"dy", dy}, {"dw", dw}});
  run_strided_batched(handle, dw_problem(d, x, dy, dw, gradient_type<Grad>(), write), batch);
}

void batched_gemm_dw(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                     const __nv_bfloat16* x, const __nv_bfloat16* dy, float* dw, GradientWrite write) {
  batched_gemm_dw_into(handle, stream, batch, d, x, dy, dw, write);
}

void batched_gemm_dw(cublasHandle_t handle, cudaStream_t stream, std::int64_t batch, const GemmDims& d,
                     const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dw, GradientWrite write) {
  batched_gemm_dw_into(handle, stream, batch, d, x, dy, dw, write);
}

void grouped_gemm(cublasHandle_t handle, cudaStream_t stream, GroupedGemmMethod method, const GroupedGemmDims& d,
                  const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y, void* workspace,
                  std::size_t workspace_bytes) {
  checked_total_rows("grouped_gemm", d);
  require_workspace("grouped_gemm", method, d, workspace, workspace_bytes);
  bind_call("grouped_gemm", handle, stream, {{"x", x}, {"w", w}, {"y", y}});
  constexpr long long bf16 = sizeof(__nv_bfloat16);
  // A = w[g], B = x rows of g, C = y rows of g.
  const GroupedOperand operands[kOperands] = {
      {address(w), d.k * d.n * bf16, 0}, {address(x), 0, d.k * bf16}, {address(y), 0, d.n * bf16}};
  const auto problem = [&](std::int64_t rows, std::int64_t first, std::int64_t g) {
    return forward_problem({rows, d.n, d.k}, x + first * d.k, w + g * d.k * d.n, y + first * d.n, CUDA_R_16BF);
  };
  run_groups(handle, stream, method, d, operands, workspace, problem);
}

void grouped_gemm_dx(cublasHandle_t handle, cudaStream_t stream, GroupedGemmMethod method, const GroupedGemmDims& d,
                     const __nv_bfloat16* dy, const __nv_bfloat16* w, __nv_bfloat16* dx, void* workspace,
                     std::size_t workspace_bytes) {
  checked_total_rows("grouped_gemm_dx", d);
  require_workspace("grouped_gemm_dx", method, d, workspace, workspace_bytes);
  bind_call("grouped_gemm_dx", handle, stream, {{"dy", dy}, {"w", w}, {"dx", dx}});
  constexpr long long bf16 = sizeof(__nv_bfloat16);
  // A = w[g] transposed, B = dy rows of g, C = dx rows of g.
  const GroupedOperand operands[kOperands] = {
      {address(w), d.k * d.n * bf16, 0}, {address(dy), 0, d.n * bf16}, {address(dx), 0, d.k * bf16}};
  const auto problem = [&](std::int64_t rows, std::int64_t first, std::int64_t g) {
    return dx_problem({rows, d.n, d.k}, dy + first * d.n, w + g * d.k * d.n, dx + first * d.k);
  };
  run_groups(handle, stream, method, d, operands, workspace, problem);
}

void grouped_gemm_wgrad(cublasHandle_t handle, cudaStream_t stream, const GroupedGemmDims& d, const __nv_bfloat16* x,
                        const __nv_bfloat16* dy, float* dw, GradientWrite write) {
  checked_total_rows("grouped_gemm_wgrad", d);
  bind_call("grouped_gemm_wgrad", handle, stream, {{"x", x}, {"dy", dy}, {"dw", dw}});
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < d.groups; ++g) {
    const std::int64_t rows = d.rows[g];
    float* dw_g = dw + g * d.k * d.n;  // [k, n]
    if (rows > 0) {
      run_gemm(handle, dw_problem({rows, d.n, d.k}, x + first * d.k, dy + first * d.n, dw_g, CUDA_R_32F, write));
    } else if (write == GradientWrite::kOverwrite) {
      // No rows: the gradient is the empty sum; all-zero bytes are fp32 zeros.
      CUDA_CHECK(cudaMemsetAsync(dw_g, 0, static_cast<std::size_t>(d.k * d.n) * sizeof(float), stream));
    }
    first += rows;
  }
}

}  // namespace ecsim
