// The bias of a GEMM, forward and backward, per group (experts) or for one matrix (groups = 1):
//   bias_add   y [G, rows, n] += bias [G, n]             bf16, fp32 sum rounded once
//   bias_grad  dbias [G, n] (=|+=) column sums of dy [G, rows, n]   fp32
// The backward gives each block 32 columns of one group; its 8 warps' rows interleave and their
// partial sums meet in shared memory in warp order, so the sum's order is fixed.
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
constexpr int kColumns = 32;  // columns per block of the backward: one warp's width, coalesced rows
constexpr int kRowLanes = 8;  // row slices per block of the backward

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

__global__ void __launch_bounds__(kColumns * kRowLanes)
    bias_grad_kernel(const __nv_bfloat16* __restrict__ dy, float* __restrict__ dbias, std::int64_t rows,
                     std::int64_t n, bool accumulate) {
  __shared__ float partial[kRowLanes][kColumns];
  const std::int64_t g = blockIdx.y;
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kColumns + threadIdx.x;
  float sum = 0.0f;
  if (col < n) {
    const __nv_bfloat16* base = dy + g * rows * n + col;
    for (std::int64_t r = threadIdx.y; r < rows; r += kRowLanes) sum += __bfloat162float(base[r * n]);
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < n) {
    float total = 0.0f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    float& out = dbias[g * n + col];
    out = accumulate ? out + total : total;
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
               GradientWrite write, cudaStream_t stream) {
  require_positive(groups, "bias_grad", "groups");
  require_positive(rows, "bias_grad", "rows");
  require_positive(n, "bias_grad", "n");
  require(groups <= 65535, "bias_grad: groups " + std::to_string(groups) + " exceeds the grid's y limit 65535");
  require_int32((n + kColumns - 1) / kColumns, "bias_grad", "column tiles");
  require_pointers("bias_grad", {{"dy", dy}, {"dbias", dbias}});
  const dim3 grid(static_cast<unsigned>((n + kColumns - 1) / kColumns), static_cast<unsigned>(groups));
  CUDA_CHECK(launch_kernel(bias_grad_kernel, grid, dim3(kColumns, kRowLanes), 0, stream, dy, dbias, rows, n,
                           write == GradientWrite::kAccumulate));
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
                      std::int64_t n, GradientWrite write, cudaStream_t stream) {
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    if (rows[g] > 0) bias_grad(dy + first * n, dbias + g * n, 1, rows[g], n, write, stream);
    first += rows[g];
  }
}

}  // namespace ecsim
