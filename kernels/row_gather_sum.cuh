// Device code shared by the expert-choice and token-choice dispatch/combine (ec_permute.cu,
// tc_permute.cu): the token-side weighted gather-sum and the per-pick combine backward row.
//   gather_sum_kernel: out[t] = sum over w in [0, width), ascending, of weight * rows[row_of[t, w]],
//     entries -1 skipped; row_of [T, width] int32. One block per token: every output has a fixed
//     summation order and no atomics, so results are bitwise reproducible.
//   combine_bwd_row: dst = g * dy_row and the block's <dy_row, y_row>, for one pick.
//   launch_gather_sum: the launch, in 16-byte chunks where the rows allow (bf16_chunks.cuh).
// Expert choice: width = E (slot_of), weights by slot. Token choice: width = k (row), weights by pick.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "bf16_chunks.cuh"
#include "block_reduce.cuh"
#include "launch.cuh"

namespace ecsim {

// How gather_sum_kernel weighs row_of[t, w]: not at all (the dispatch's backward), by the row's
// own weight (expert choice: gate[slot]), or by the pick's (token choice: gate[t, w]).
enum class RowWeight { kOne, kByRow, kByPick };

constexpr int kGatherSumThreads = 256;

// The token's row list in shared memory is padded with -1 to a multiple of this many entries: nvcc
// unrolls the summation loop and reads the list several entries at a time, past `width` in the last
// pass (compute-sanitizer memcheck on an H100, 2026-11-27: a 12-byte read at entry 4 of a 6-entry
// list). The padding keeps those reads inside the allocation and defined.
constexpr int kGatherSumRowPad = 8;

__host__ __device__ constexpr int gather_sum_padded_width(int width) {
  return (width + kGatherSumRowPad - 1) / kGatherSumRowPad * kGatherSumRowPad;
}

// grid = T blocks of kGatherSumThreads; dynamic shared memory: gather_sum_padded_width(width) ints.
// kVec: bf16 per chunk (bf16_chunks.cuh); each element sums the same terms in the same order
// whichever kVec.
template <RowWeight kWeight, int kVec>
__global__ void __launch_bounds__(kGatherSumThreads)
    gather_sum_kernel(const __nv_bfloat16* __restrict__ rows, const int* __restrict__ row_of,
                      const float* __restrict__ weight, __nv_bfloat16* __restrict__ out, int width, int hidden) {
  int* token_rows = reinterpret_cast<int*>(dynamic_shared_memory());  // [padded width]
  const std::int64_t t = blockIdx.x;
  const int padded = gather_sum_padded_width(width);
  for (int w = threadIdx.x; w < padded; w += kGatherSumThreads) token_rows[w] = w < width ? row_of[t * width + w] : -1;
  __syncthreads();
  for_each_row_chunk<kVec, kGatherSumThreads>(hidden, [&](int c) {
    float acc[kVec] = {};
    for (int w = 0; w < width; ++w) {
      const int row = token_rows[w];
      if (row < 0) continue;
      float v[kVec];
      load_chunk<kVec>(rows + static_cast<std::int64_t>(row) * hidden + c, v);
      float g = 1.0f;
      if constexpr (kWeight == RowWeight::kByRow) {
        g = weight[row];
      } else if constexpr (kWeight == RowWeight::kByPick) {
        g = weight[t * width + w];
      }
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if constexpr (kWeight == RowWeight::kOne) {
          acc[i] += v[i];
        } else {
          acc[i] += g * v[i];
        }
      }
    }
    store_chunk<kVec>(out + t * hidden + c, acc);
  });
}

// Launches gather_sum_kernel<kWeight> over T tokens, in 16-byte chunks where rows, out and hidden
// allow it.
template <RowWeight kWeight>
cudaError_t launch_gather_sum(const __nv_bfloat16* rows, const int* row_of, const float* weight, __nv_bfloat16* out,
                              std::int64_t tokens, std::int64_t width, std::int64_t hidden, cudaStream_t stream) {
  cudaError_t status = cudaSuccess;
  const auto shared_bytes = static_cast<std::size_t>(gather_sum_padded_width(static_cast<int>(width))) * sizeof(int);
  launch_by_chunk(chunks_vectorizable(hidden, {rows, out}), [&](auto chunk) {
    status = launch_kernel(gather_sum_kernel<kWeight, decltype(chunk)::value>, static_cast<unsigned>(tokens),
                           kGatherSumThreads, shared_bytes, stream, rows, row_of, weight, out, static_cast<int>(width),
                           static_cast<int>(hidden));
  });
  return status;
}

// Called by every thread of a kGatherSumThreads block: dst[c] = g * dy_row[c]; returns
// <dy_row, y_row> (fp32, fixed order for a given kVec) to every thread.
template <int kVec>
__device__ inline float combine_bwd_row(const __nv_bfloat16* __restrict__ dy_row,
                                        const __nv_bfloat16* __restrict__ y_row, float g,
                                        __nv_bfloat16* __restrict__ dst, int hidden) {
  float dot = 0;
  for_each_row_chunk<kVec, kGatherSumThreads>(hidden, [&](int c) {
    float d[kVec], y[kVec], scaled[kVec];
    load_chunk<kVec>(dy_row + c, d);
    load_chunk<kVec>(y_row + c, y);
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      scaled[i] = g * d[i];
      dot += d[i] * y[i];
    }
    store_chunk<kVec>(dst + c, scaled);
  });
  return block_sum<kGatherSumThreads>(dot);
}

}  // namespace ecsim
