// Device code shared by the expert-choice and token-choice dispatch/combine (ec_permute.cu,
// tc_permute.cu): the token-side weighted gather-sum and the per-pick combine backward row.
//   gather_sum_kernel: out[t] = sum over w in [0, width), ascending, of weight * rows[row_of[t, w]],
//     entries -1 skipped; row_of [T, width] int32. One block per token: every output has a fixed
//     summation order and no atomics, so results are bitwise reproducible.
//   combine_bwd_row: dst = g * dy_row and the block's <dy_row, y_row>, for one pick.
// Expert choice: width = E (slot_of), weights by slot. Token choice: width = k (row), weights by pick.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "block_reduce.cuh"
#include "launch.cuh"

namespace ecsim {

// How gather_sum_kernel weighs row_of[t, w]: not at all (the dispatch's backward), by the row's
// own weight (expert choice: gate[slot]), or by the pick's (token choice: gate[t, w]).
enum class RowWeight { kOne, kByRow, kByPick };

constexpr int kGatherSumThreads = 256;

// grid = T blocks of kGatherSumThreads; dynamic shared memory: width ints.
template <RowWeight kWeight>
__global__ void __launch_bounds__(kGatherSumThreads)
    gather_sum_kernel(const __nv_bfloat16* __restrict__ rows, const int* __restrict__ row_of,
                      const float* __restrict__ weight, __nv_bfloat16* __restrict__ out, int width, int hidden) {
  int* token_rows = reinterpret_cast<int*>(dynamic_shared_memory());  // [width]
  const std::int64_t t = blockIdx.x;
  for (int w = threadIdx.x; w < width; w += kGatherSumThreads) token_rows[w] = row_of[t * width + w];
  __syncthreads();
  for (int c = threadIdx.x; c < hidden; c += kGatherSumThreads) {
    float acc = 0;
    for (int w = 0; w < width; ++w) {
      const int row = token_rows[w];
      if (row < 0) continue;
      const float v = __bfloat162float(rows[static_cast<std::int64_t>(row) * hidden + c]);
      if constexpr (kWeight == RowWeight::kOne) {
        acc += v;
      } else if constexpr (kWeight == RowWeight::kByRow) {
        acc += weight[row] * v;
      } else {
        acc += weight[t * width + w] * v;
      }
    }
    out[t * hidden + c] = __float2bfloat16(acc);
  }
}

// Called by every thread of a kGatherSumThreads block: dst[c] = g * dy_row[c]; returns
// <dy_row, y_row> (fp32, fixed order) to every thread.
__device__ inline float combine_bwd_row(const __nv_bfloat16* __restrict__ dy_row,
                                        const __nv_bfloat16* __restrict__ y_row, float g,
                                        __nv_bfloat16* __restrict__ dst, int hidden) {
  float dot = 0;
  for (int c = threadIdx.x; c < hidden; c += kGatherSumThreads) {
    const float d = __bfloat162float(dy_row[c]);
    dst[c] = __float2bfloat16(g * d);
    dot += d * __bfloat162float(y_row[c]);
  }
  return block_sum<kGatherSumThreads>(dot);
}

}  // namespace ecsim
