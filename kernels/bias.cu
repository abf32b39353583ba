// The bias of a GEMM, forward and backward, per group (experts) or for one matrix (groups = 1):
//   bias_add   y [G, rows, n] += bias [G, n]             bf16, fp32 sum rounded once
//   bias_grad  dbias [G, n] (=|+=) column sums of dy [G, rows, n]   fp32 (or bf16: rounded once)
// The backward is column_sums.cuh's: blocks of 32 columns of one group over one chunk of its rows,
// and, where the column tiles alone are too few blocks to fill the GPU (a bias of 1152 over 65536
// rows is 36 tiles), the rows cut into chunks whose sums a second kernel adds in chunk order; the
// order is fixed by the shape, so reruns match bit for bit. (Until 2026-11-27 one block walked all
// the rows of its 32 columns: 267 GB/s at 1152 x 65536 on an H100, 564 us.)
// CPU reference: ref/gemm.hpp (bias and dbias). Test: ctest -R bias
// (tests/kernels/runner_gpu_test.cpp; skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include <string>
#include <type_traits>

#include "bf16_chunks.cuh"
#include "bias.cuh"
#include "column_sums.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

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

// bias_grad's sums (column_sums.cuh): dy [G, rows, n] read one element at a time, the totals
// written to dbias [G, n] (fp32, or bf16: old value and total added in fp32, rounded once) or added
// to it.
struct BiasGradTerm {
  const __nv_bfloat16* dy;
  std::int64_t n;
  __device__ void operator()(std::int64_t row, std::int64_t c, float (&t)[1]) const {
    t[0] = __bfloat162float(dy[row * n + c]);
  }
};
template <class Grad>
struct BiasGradStore {
  Grad* dbias;
  std::int64_t n;
  bool accumulate;
  __device__ void operator()(std::int64_t g, std::int64_t c, const float (&total)[1]) const {
    Grad& out = dbias[g * n + c];
    if constexpr (std::is_same_v<Grad, float>) {
      out = accumulate ? out + total[0] : total[0];
    } else {
      out = __float2bfloat16(accumulate ? __bfloat162float(out) + total[0] : total[0]);
    }
  }
};

template <class Grad>
void bias_grad_into(const __nv_bfloat16* dy, Grad* dbias, std::int64_t groups, std::int64_t rows, std::int64_t n,
                    GradientWrite write, float* partials, cudaStream_t stream) {
  require_positive(groups, "bias_grad", "groups");
  require_positive(rows, "bias_grad", "rows");
  require_positive(n, "bias_grad", "n");
  require(groups <= 65535, "bias_grad: groups " + std::to_string(groups) + " exceeds the grid's y limit 65535");
  require_int32((n + kColumnTile - 1) / kColumnTile, "bias_grad", "column tiles");
  require_pointers("bias_grad", {{"dy", dy}, {"dbias", dbias}, {"partials", partials}});
  column_sums::launch<1>(BiasGradTerm{dy, n}, BiasGradStore<Grad>{dbias, n, write == GradientWrite::kAccumulate},
                         partials, groups, rows, n, stream);
}

template <class Grad>
void ragged_bias_grad_into(const __nv_bfloat16* dy, Grad* dbias, const std::int64_t* rows, std::int64_t groups,
                           std::int64_t n, GradientWrite write, float* partials, cudaStream_t stream) {
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    if (rows[g] > 0) {
      bias_grad_into(dy + first * n, dbias + g * n, 1, rows[g], n, write, partials, stream);
    } else if (write == GradientWrite::kOverwrite) {
      // No rows: the sum is 0 (all-zero bytes in fp32 and bf16; with kAccumulate nothing to add).
      CUDA_CHECK(cudaMemsetAsync(dbias + g * n, 0, static_cast<std::size_t>(n) * sizeof(Grad), stream));
    }
    first += rows[g];
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
  bias_grad_into(dy, dbias, groups, rows, n, write, partials, stream);
}

void bias_grad(const __nv_bfloat16* dy, __nv_bfloat16* dbias, std::int64_t groups, std::int64_t rows, std::int64_t n,
               GradientWrite write, float* partials, cudaStream_t stream) {
  bias_grad_into(dy, dbias, groups, rows, n, write, partials, stream);
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
  ragged_bias_grad_into(dy, dbias, rows, groups, n, write, partials, stream);
}

void ragged_bias_grad(const __nv_bfloat16* dy, __nv_bfloat16* dbias, const std::int64_t* rows, std::int64_t groups,
                      std::int64_t n, GradientWrite write, float* partials, cudaStream_t stream) {
  ragged_bias_grad_into(dy, dbias, rows, groups, n, write, partials, stream);
}

}  // namespace ecsim
