// Per-group column sums over the rows of each group, the kernels that bias_grad (a bias gradient
// per expert), adaln_layernorm_bwd (dshift, dscale per sample) and gate_residual_bwd (dgate per
// sample) share. A block takes kColumns columns of one group and one chunk of its rows; its
// kRowLanes row lanes interleave over the chunk and meet in shared memory in lane order. With one
// chunk the block stores its totals; with several (column_chunks.hpp: where the column tiles
// alone are too few blocks for the GPU) it writes them to the caller's fp32 partials, and a second
// kernel adds each column's chunks in chunk order and stores them. The order of every sum is
// fixed by the shape, so reruns match bit for bit, without atomics.
//
//   column_sums::launch<kSums>(term, store, partials, groups, rows, n, stream);
//     term(row, c, t):     the kSums terms of row `row` (g * rows + r) and column c, into float t[kSums]
//     store(g, c, total):  the kSums totals of group g's column c
//     partials:            kSums * kColumnSumPartials floats (read only where the rows are chunked)
// Term and Store are small device functors (pointers and strides), passed by value.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "column_chunks.hpp"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"

namespace ecsim::column_sums {

constexpr int kColumns = static_cast<int>(kColumnTile);
constexpr int kRowLanes = 8;
constexpr int kFinishThreads = 256;

// grid (column tiles, groups, chunks), block (kColumns, kRowLanes).
template <int kSums, class Term, class Store>
__global__ void __launch_bounds__(kColumns * kRowLanes)
    chunk_kernel(Term term, Store store, float* __restrict__ partials, std::int64_t rows, std::int64_t n,
                 std::int64_t chunk_rows) {
  __shared__ float lane_sums[kSums][kRowLanes][kColumns];
  const std::int64_t g = blockIdx.y;
  const std::int64_t chunk = blockIdx.z;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kColumns + threadIdx.x;
  const std::int64_t first = chunk * chunk_rows;
  const std::int64_t last = first + chunk_rows < rows ? first + chunk_rows : rows;
  float sum[kSums] = {};
  if (c < n) {
#pragma unroll 4
    for (std::int64_t r = first + threadIdx.y; r < last; r += kRowLanes) {
      float t[kSums];
      term(g * rows + r, c, t);
#pragma unroll
      for (int k = 0; k < kSums; ++k) sum[k] += t[k];
    }
  }
#pragma unroll
  for (int k = 0; k < kSums; ++k) lane_sums[k][threadIdx.y][threadIdx.x] = sum[k];
  __syncthreads();
  if (threadIdx.y != 0 || c >= n) return;
  float total[kSums] = {};
  for (int lane = 0; lane < kRowLanes; ++lane) {
#pragma unroll
    for (int k = 0; k < kSums; ++k) total[k] += lane_sums[k][lane][threadIdx.x];
  }
  if (gridDim.z == 1) {
    store(g, c, total);
    return;
  }
#pragma unroll
  for (int k = 0; k < kSums; ++k) partials[((chunk * gridDim.y + g) * kSums + k) * n + c] = total[k];
}

// Each (group, column) adds its chunks' partials [chunks, groups, kSums, n] in chunk order.
template <int kSums, class Store>
__global__ void __launch_bounds__(kFinishThreads)
    finish_kernel(Store store, const float* __restrict__ partials, std::int64_t groups, std::int64_t n,
                  std::int64_t chunks) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < groups * n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t g = i / n, c = i % n;
    float total[kSums] = {};
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
#pragma unroll
      for (int k = 0; k < kSums; ++k) total[k] += partials[((chunk * groups + g) * kSums + k) * n + c];
    }
    store(g, c, total);
  }
}

template <int kSums, class Term, class Store>
void launch(Term term, Store store, float* partials, std::int64_t groups, std::int64_t rows, std::int64_t n,
            cudaStream_t stream) {
  const ColumnChunks chunks = column_chunks(groups, rows, n);
  const dim3 grid(static_cast<unsigned>((n + kColumns - 1) / kColumns), static_cast<unsigned>(groups),
                  static_cast<unsigned>(chunks.chunks));
  CUDA_CHECK(launch_kernel(chunk_kernel<kSums, Term, Store>, grid, dim3(kColumns, kRowLanes), 0, stream, term, store,
                           partials, rows, n, chunks.chunk_rows));
  if (chunks.chunks > 1) {
    CUDA_CHECK(launch_kernel(finish_kernel<kSums, Store>, elementwise_blocks(groups * n, kFinishThreads),
                             kFinishThreads, 0, stream, store, partials, groups, n, chunks.chunks));
  }
}

}  // namespace ecsim::column_sums
