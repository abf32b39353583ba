// The bias of a GEMM, forward and backward, per group (experts) or for one matrix (groups = 1):
//   bias_add   y [G, rows, n] += bias [G, n]             bf16, fp32 sum rounded once
//   bias_grad  dbias [G, n] (=|+=) column sums of dy [G, rows, n]   fp32
// The backward gives each block 32 columns of one group over one chunk of its rows; the block's 8
// warps' rows interleave and their partial sums meet in shared memory in warp order. Where the
// column tiles alone are too few blocks to fill the GPU (a bias of 1152 over 65536 rows is 36
// tiles), the rows are cut into chunks, each block writes its chunk's column sums to the partials
// workspace, and a second kernel adds a column's chunks in chunk order. The chunking depends only
// on the shape, so the sum's order is fixed and reruns match bit for bit. (Until 2026-11-27 one
// block walked all the rows of its 32 columns: 267 GB/s at 1152 x 65536 on an H100, 564 us.)
// CPU reference: ref/gemm.hpp (bias and dbias). Test: ctest -R bias
// (tests/kernels/runner_gpu_test.cpp; skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "bias.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;
constexpr int kColumns = static_cast<int>(kColumnTile);  // columns per block of the backward
constexpr int kRowLanes = 8;                              // row slices per block of the backward

// A chunk lies in one row (n is a multiple of kVec), so its bias is one chunk of bias[g].
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    bias_add_kernel(__nv_bfloat16* __restrict__ y, const __nv_bfloat16* __restrict__ bias, std::int64_t rows,
                    std::int64_t n, std::int64_t total) {
  for_each_chunk<kVec>(total, [&](std::int64_t i) {
    const std::int64_t g = i / (rows * n);
    const std::int64_t col = i % n;
    float v[kVec], b[kVec];
    load_chunk<kVec>(y + i, v);
    load_chunk<kVec>(bias + g * n + col, b);
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] += b[j];
    store_chunk<kVec>(y + i, v);
  });
}

// grid (column tiles, groups, chunks). With one chunk the block's sums go to dbias (= or +=);
// with several, to partials [chunks, G, n].
__global__ void __launch_bounds__(kColumns * kRowLanes)
    bias_grad_kernel(const __nv_bfloat16* __restrict__ dy, float* __restrict__ dbias, float* __restrict__ partials,
                     std::int64_t rows, std::int64_t n, std::int64_t chunk_rows, bool accumulate) {
  __shared__ float partial[kRowLanes][kColumns];
  const std::int64_t g = blockIdx.y;
  const std::int64_t chunk = blockIdx.z;
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kColumns + threadIdx.x;
  const std::int64_t first = chunk * chunk_rows;
  const std::int64_t last = first + chunk_rows < rows ? first + chunk_rows : rows;
  float sum = 0.0f;
  if (col < n) {
    const __nv_bfloat16* base = dy + g * rows * n + col;
#pragma unroll 4
    for (std::int64_t r = first + threadIdx.y; r < last; r += kRowLanes) sum += __bfloat162float(base[r * n]);
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < n) {
    float total = 0.0f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    if (gridDim.z > 1) {
      partials[(chunk * gridDim.y + g) * n + col] = total;
    } else {
      float& out = dbias[g * n + col];
      out = accumulate ? out + total : total;
    }
  }
}

// dbias[i] (=|+=) sum over c, in order, of partials[c, i]; i over G n.
__global__ void __launch_bounds__(kThreads)
    bias_grad_finish_kernel(const float* __restrict__ partials, float* __restrict__ dbias, std::int64_t size,
                            std::int64_t chunks, bool accumulate) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < size;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float total = 0.0f;
    for (std::int64_t c = 0; c < chunks; ++c) total += partials[c * size + i];
    dbias[i] = accumulate ? dbias[i] + total : total;
  }
}

}  // namespace

void bias_add(__nv_bfloat16* y, const __nv_bfloat16* bias, std::int64_t groups, std::int64_t rows, std::int64_t n,
              cudaStream_t stream) {
  require_positive(groups, "bias_add", "groups");
  require_positive(rows, "bias_add", "rows");
  require_positive(n, "bias_add", "n");
  require_pointers("bias_add", {{"y", y}, {"bias", bias}});
  const std::int64_t total = groups * rows * n;
  launch_by_chunk(chunks_vectorizable(n, {y, bias}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(bias_add_kernel<kVec>, elementwise_blocks(total / kVec, kThreads), kThreads, 0, stream, y,
                             bias, rows, n, total));
  });
}

void bias_grad(const __nv_bfloat16* dy, float* dbias, std::int64_t groups, std::int64_t rows, std::int64_t n,
               GradientWrite write, float* partials, cudaStream_t stream) {
  require_positive(groups, "bias_grad", "groups");
  require_positive(rows, "bias_grad", "rows");
  require_positive(n, "bias_grad", "n");
  require(groups <= 65535, "bias_grad: groups " + std::to_string(groups) + " exceeds the grid's y limit 65535");
  require_int32((n + kColumns - 1) / kColumns, "bias_grad", "column tiles");
  require_pointers("bias_grad", {{"dy", dy}, {"dbias", dbias}, {"partials", partials}});
  const ColumnChunks c = column_chunks(groups, rows, n);
  const bool accumulate = write == GradientWrite::kAccumulate;
  const dim3 grid(static_cast<unsigned>((n + kColumns - 1) / kColumns), static_cast<unsigned>(groups),
                  static_cast<unsigned>(c.chunks));
  CUDA_CHECK(launch_kernel(bias_grad_kernel, grid, dim3(kColumns, kRowLanes), 0, stream, dy, dbias, partials, rows, n,
                           c.chunk_rows, accumulate));
  if (c.chunks > 1) {
    const std::int64_t size = groups * n;
    CUDA_CHECK(launch_kernel(bias_grad_finish_kernel, elementwise_blocks(size, kThreads), kThreads, 0, stream,
                             partials, dbias, size, c.chunks, accumulate));
  }
}

void ragged_bias_add(__nv_bfloat16* y, const __nv_bfloat16* bias, const std::int64_t* rows, std::int64_t groups,
                     std::int64_t n, cudaStream_t stream) {
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    if (rows[g] > 0) bias_add(y + first * n, bias + g * n, 1, rows[g], n, stream);
    first += rows[g];
  }
}

void ragged_bias_grad(const __nv_bfloat16* dy, float* dbias, const std::int64_t* rows, std::int64_t groups,
                      std::int64_t n, GradientWrite write, float* partials, cudaStream_t stream) {
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    if (rows[g] > 0) {
      bias_grad(dy + first * n, dbias + g * n, 1, rows[g], n, write, partials, stream);
    } else if (write == GradientWrite::kOverwrite) {
      // No rows: the sum is 0 (and with kAccumulate there is nothing to add).
      CUDA_CHECK(cudaMemsetAsync(dbias + g * n, 0, static_cast<std::size_t>(n) * sizeof(float), stream));
    }
    first += rows[g];
  }
}

}  // namespace ecsim
