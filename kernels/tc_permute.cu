// Token-choice dispatch and combine (ops `permute`, `unpermute`):
//   permute    xp[row] = x[row_assignment[row] / k], 0 on padding    x [T, d] -> xp [rows, d]
//   unpermute  y[t] = sum_j gate[t, j] yp[row[t, j]] (kept picks)     yp [rows, d] -> y [T, d]
// bf16 rows, fp32 accumulation. The unpermute and the permute's backward are token-side
// gather-sums over the token's k picks in rank order (row_gather_sum.cuh): fixed order, no
// atomics. The unpermute's backward runs one block per pick.
// CPU reference: ref/token_choice.hpp. Test: ctest -R "token choice" (tests/kernels/
// token_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// token_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include "cuda_check.hpp"
#include "launch.cuh"
#include "launch_check.hpp"
#include "row_gather_sum.cuh"
#include "tc_permute.cuh"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

// One block per row of the buffer; rows past offsets[E] are unused.
__global__ void __launch_bounds__(kThreads)
    tc_permute_kernel(const __nv_bfloat16* __restrict__ x, const int* __restrict__ row_assignment,
                      const int* __restrict__ offsets, __nv_bfloat16* __restrict__ xp, int experts, int top_k,
                      int hidden) {
  const std::int64_t row = blockIdx.x;
  if (row >= offsets[experts]) return;
  const int a = row_assignment[row];
  if (a < 0) {  // padding
    for (int c = threadIdx.x; c < hidden; c += kThreads) xp[row * hidden + c] = __float2bfloat16(0.0f);
    return;
  }
  const __nv_bfloat16* src = x + static_cast<std::int64_t>(a / top_k) * hidden;  // [d]
  for (int c = threadIdx.x; c < hidden; c += kThreads) xp[row * hidden + c] = src[c];
}

// One block per pick a = t k + j.
__global__ void __launch_bounds__(kGatherSumThreads)
    tc_unpermute_bwd_kernel(const __nv_bfloat16* __restrict__ yp, const __nv_bfloat16* __restrict__ dy,
                            const int* __restrict__ row_of, const float* __restrict__ gate,
                            __nv_bfloat16* __restrict__ dyp, float* __restrict__ dgate, int top_k, int hidden) {
  const std::int64_t a = blockIdx.x;
  const std::int64_t row = row_of[a];
  if (row < 0) {  // dropped: no row, no gradient
    if (threadIdx.x == 0) dgate[a] = 0.0f;
    return;
  }
  const float dot =
      combine_bwd_row(dy + (a / top_k) * hidden, yp + row * hidden, gate[a], dyp + row * hidden, hidden);
  if (threadIdx.x == 0) dgate[a] = dot;
}

void check_launch(const TokenChoiceDims& d, std::int64_t hidden, const char* op) {
  check_token_choice_dims(d, op);
  require_positive(hidden, op, "hidden");
  require_int32(hidden, op, "hidden");
}

std::size_t picks_shared_bytes(const TokenChoiceDims& d) { return static_cast<std::size_t>(d.top_k) * sizeof(int); }

}  // namespace

void tc_permute(const __nv_bfloat16* x, const TokenChoiceRouting& r, __nv_bfloat16* xp, const TokenChoiceDims& d,
                std::int64_t hidden, cudaStream_t stream) {
  check_launch(d, hidden, "tc_permute");
  require_pointers("tc_permute", {{"x", x}, {"row_assignment", r.row_assignment}, {"offsets", r.offsets}, {"xp", xp}});
  CUDA_CHECK(launch_kernel(tc_permute_kernel, static_cast<unsigned>(d.max_rows()), kThreads, 0, stream, x,
                           r.row_assignment, r.offsets, xp, static_cast<int>(d.experts), static_cast<int>(d.top_k),
                           static_cast<int>(hidden)));
}

void tc_permute_bwd(const __nv_bfloat16* dxp, const TokenChoiceRouting& r, __nv_bfloat16* dx,
                    const TokenChoiceDims& d, std::int64_t hidden, cudaStream_t stream) {
  check_launch(d, hidden, "tc_permute_bwd");
  require_pointers("tc_permute_bwd", {{"dxp", dxp}, {"row", r.row}, {"dx", dx}});
  CUDA_CHECK(launch_kernel(gather_sum_kernel<RowWeight::kOne>, static_cast<unsigned>(d.tokens), kGatherSumThreads,
                           picks_shared_bytes(d), stream, dxp, r.row, nullptr, dx, static_cast<int>(d.top_k),
                           static_cast<int>(hidden)));
}

void tc_unpermute(const __nv_bfloat16* yp, const TokenChoiceRouting& r, __nv_bfloat16* y, const TokenChoiceDims& d,
                  std::int64_t hidden, cudaStream_t stream) {
  check_launch(d, hidden, "tc_unpermute");
  require_pointers("tc_unpermute", {{"yp", yp}, {"row", r.row}, {"gate", r.gate}, {"y", y}});
  CUDA_CHECK(launch_kernel(gather_sum_kernel<RowWeight::kByPick>, static_cast<unsigned>(d.tokens), kGatherSumThreads,
                           picks_shared_bytes(d), stream, yp, r.row, r.gate, y, static_cast<int>(d.top_k),
                           static_cast<int>(hidden)));
}

void tc_unpermute_bwd(const __nv_bfloat16* yp, const __nv_bfloat16* dy, const TokenChoiceRouting& r,
                      __nv_bfloat16* dyp, float* dgate, const TokenChoiceDims& d, std::int64_t hidden,
                      cudaStream_t stream) {
  check_launch(d, hidden, "tc_unpermute_bwd");
  require_pointers("tc_unpermute_bwd",
                   {{"yp", yp}, {"dy", dy}, {"row", r.row}, {"gate", r.gate}, {"dyp", dyp}, {"dgate", dgate}});
  // Padding rows get no pick's gradient: zeros, so that the experts' weight gradients over all
  // E C rows add nothing for them.
  if (d.padded) {
    CUDA_CHECK(cudaMemsetAsync(dyp, 0, static_cast<std::size_t>(d.max_rows() * hidden) * sizeof(__nv_bfloat16),
                               stream));
  }
  CUDA_CHECK(launch_kernel(tc_unpermute_bwd_kernel, static_cast<unsigned>(d.assignments()), kGatherSumThreads, 0,
                           stream, yp, dy, r.row, r.gate, dyp, dgate, static_cast<int>(d.top_k),
                           static_cast<int>(hidden)));
}

}  // namespace ecsim
