// Device helpers shared by the kernels: warp and block sums, a warp's inclusive and a block's
// exclusive scan, and the lane mask that counts a ballot's votes before a lane. The order of every
// addition is fixed by the lane and warp indices, so results are bitwise reproducible from run to
// run (no atomics). The butterfly leaves each lane with the same terms added in a
// different order, so lane 0's result is broadcast: every thread then uses one identical value.
#pragma once

#include <cuda_runtime.h>

namespace ecsim {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ inline float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return __shfl_sync(kFullMask, v, 0);
}

__device__ inline float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// One instruction on compute capability 8.0 and later (redux.sync), where the butterfly took five
// dependent shuffles; integer sums do not depend on the order.
__device__ inline int warp_sum(int v) { return __reduce_add_sync(kFullMask, v); }

// The lanes below this one as a bit mask (lane i: bits 0 .. i-1), for counting a __ballot_sync's
// votes before a lane: an exclusive scan of 0/1 values in two instructions.
__device__ inline unsigned lanes_below() { return (1u << (threadIdx.x % kWarpSize)) - 1u; }

// Inclusive prefix sum of one int per lane over the warp.
__device__ inline int warp_inclusive_scan(int v) {
  const int lane = threadIdx.x % kWarpSize;
  for (int offset = 1; offset < kWarpSize; offset *= 2) {
    const int other = __shfl_up_sync(kFullMask, v, offset);
    if (lane >= offset) v += other;
  }
  return v;
}

// Sum over the block, returned to every thread. kThreads is the block size, a multiple of 32.
template <int kThreads>
__device__ float block_sum(float v) {
  static_assert(kThreads % kWarpSize == 0 && kThreads <= 1024, "block size must be whole warps, at most 1024");
  __shared__ float warp_sums[kThreads / kWarpSize];
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // an earlier call may still be reading warp_sums
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = lane < kThreads / kWarpSize ? warp_sums[lane] : 0.0f;
  return warp_sum(v);  // every warp adds the same partials in the same order
}

// Exclusive prefix sum of one int per thread over the block; `total` gets the block's sum.
template <int kThreads>
__device__ int block_exclusive_scan(int v, int& total) {
  static_assert(kThreads % kWarpSize == 0 && kThreads <= 1024, "block size must be whole warps, at most 1024");
  __shared__ int warp_totals[kThreads / kWarpSize];
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int inclusive = warp_inclusive_scan(v);
  __syncthreads();  // an earlier call may still be reading warp_totals
  if (lane == kWarpSize - 1) warp_totals[warp] = inclusive;
  __syncthreads();
  int before = 0;
  total = 0;
  for (int w = 0; w < kThreads / kWarpSize; ++w) {
    if (w < warp) before += warp_totals[w];
    total += warp_totals[w];
  }
  return before + inclusive - v;
}

}  // namespace ecsim
