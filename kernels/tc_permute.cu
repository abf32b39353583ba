// Token-choice dispatch and combine (ops `permute`, `unpermute`):
//   permute    xp[row] = x[row_assignment[row] / k], 0 on padding    x [T, d] -> xp [rows, d]
//   unpermute  y[t] = sum_j gate[t, j] yp[row[t, j]] (kept picks)     yp [rows, d] -> y [T, d]
// bf16 rows, fp32 accumulation, moved in 16-byte chunks where the row length and the buffers allow
// (bf16_chunks.cuh). The unpermute and the permute's backward are token-side
// gather-sums over the token's k picks in rank order (row_gather_sum.cuh): fixed order, no
// atomics. The unpermute's backward runs one block per pick.
// CPU reference: ref/token_choice.hpp. Test: ctest -R "token choice" (tests/kernels/
// token_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// token_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "cuda_check.hpp"
#include "launch.cuh"
#include "launch_check.hpp"
#include "row_gather_sum.cuh"
#include "tc_permute.cuh"

namespace ecsim {
namespace {

constexpr int kWarpsPerBlock = 8;  // rows per block in the permute: one warp each
constexpr int kThreads = kWarpsPerBlock * kWarpSize;

// One warp per row of the buffer; rows past offsets[E] are unused.
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    tc_permute_kernel(const __nv_bfloat16* __restrict__ x, const int* __restrict__ row_assignment,
                      const int* __restrict__ offsets, __nv_bfloat16* __restrict__ xp, int experts, int top_k,
                      int hidden) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (row >= offsets[experts]) return;  // whole warps leave together
  const int a = row_assignment[row];
  // Padding (a < 0) gets zeros: a null source.
  const __nv_bfloat16* src = a < 0 ? nullptr : x + static_cast<std::int64_t>(a / top_k) * hidden;  // [d]
  warp_copy_row<kVec>(xp + row * hidden, src, hidden, static_cast<int>(threadIdx.x) % kWarpSize);
}

// One block per pick a = t k + j.
template <int kVec>
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
      combine_bwd_row<kVec>(dy + (a / top_k) * hidden, yp + row * hidden, gate[a], dyp + row * hidden, hidden);
  if (threadIdx.x == 0) dgate[a] = dot;
}

void check_launch(const TokenChoiceDims& d, std::int64_t hidden, const char* op) {
  check_token_choice_dims(d, op);
  require_positive(hidden, op, "hidden");
  require_int32(hidden, op, "hidden");
}

}  // namespace

void tc_permute(const __nv_bfloat16* x, const TokenChoiceRouting& r, __nv_bfloat16* xp, const TokenChoiceDims& d,
                std::int64_t hidden, cudaStream_t stream) {
  check_launch(d, hidden, "tc_permute");
  require_pointers("tc_permute", {{"x", x}, {"row_assignment", r.row_assignment}, {"offsets", r.offsets}, {"xp", xp}});
  const auto blocks = static_cast<unsigned>((d.max_rows() + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_by_chunk(chunks_vectorizable(hidden, {x, xp}), [&](auto chunk) {
    CUDA_CHECK(launch_kernel(tc_permute_kernel<decltype(chunk)::value>, blocks, kThreads, 0, stream, x,
                             r.row_assignment, r.offsets, xp, static_cast<int>(d.experts), static_cast<int>(d.top_k),
                             static_cast<int>(hidden)));
  });
}

void tc_permute_bwd(const __nv_bfloat16* dxp, const TokenChoiceRouting& r, __nv_bfloat16* dx,
                    const TokenChoiceDims& d, std::int64_t hidden, cudaStream_t stream) {
  check_launch(d, hidden, "tc_permute_bwd");
  require_pointers("tc_permute_bwd", {{"dxp", dxp}, {"row", r.row}, {"dx", dx}});
  CUDA_CHECK(launch_gather_sum<RowWeight::kOne>(dxp, r.row, nullptr, dx, d.tokens, d.top_k, hidden, stream));
}

void tc_unpermute(const __nv_bfloat16* yp, const TokenChoiceRouting& r, __nv_bfloat16* y, const TokenChoiceDims& d,
                  std::int64_t hidden, cudaStream_t stream) {
  check_launch(d, hidden, "tc_unpermute");
  require_pointers("tc_unpermute", {{"yp", yp}, {"row", r.row}, {"gate", r.gate}, {"y", y}});
  CUDA_CHECK(launch_gather_sum<RowWeight::kByPick>(yp, r.row, r.gate, y, d.tokens, d.top_k, hidden, stream));
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
  launch_by_chunk(chunks_vectorizable(hidden, {yp, dy, dyp}), [&](auto chunk) {
    CUDA_CHECK(launch_kernel(tc_unpermute_bwd_kernel<decltype(chunk)::value>, static_cast<unsigned>(d.assignments()),
                             kGatherSumThreads, 0, stream, yp, dy, r.row, r.gate, dyp, dgate,
                             static_cast<int>(d.top_k), static_cast<int>(hidden)));
  });
}

}  // namespace ecsim
