// SiLU (op `silu`), the activation inside DiT's timestep MLP:
//   silu(x) = x sigmoid(x);  silu'(x) = s (1 + x (1 - s)),  s = sigmoid(x)
//   x, y, dy, dx [n] bf16, arithmetic in fp32, one rounding per stored value.
// CPU reference: model_ref/silu.hpp. Test: ctest -R silu (tests/kernels/runner_gpu_test.cpp;
// skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "silu.cuh"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

__device__ inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    silu_fwd_kernel(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float v[kVec];
    load_chunk<kVec>(x + i, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = v[j] * sigmoid(v[j]);
    store_chunk<kVec>(y + i, v);
  });
}

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    silu_bwd_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ dy,
                    __nv_bfloat16* __restrict__ dx, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float v[kVec], g[kVec];
    load_chunk<kVec>(x + i, v);
    load_chunk<kVec>(dy + i, g);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float s = sigmoid(v[j]);
      g[j] = g[j] * s * (1.0f + v[j] * (1.0f - s));
    }
    store_chunk<kVec>(dx + i, g);
  });
}

}  // namespace

void silu_fwd(const __nv_bfloat16* x, __nv_bfloat16* y, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "silu_fwd", "n");
  require_pointers("silu_fwd", {{"x", x}, {"y", y}});
  launch_by_chunk(chunks_vectorizable(n, {x, y}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(silu_fwd_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream, x, y,
                             n));
  });
}

void silu_bwd(const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dx, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "silu_bwd", "n");
  require_pointers("silu_bwd", {{"x", x}, {"dy", dy}, {"dx", dx}});
  launch_by_chunk(chunks_vectorizable(n, {x, dy, dx}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(silu_bwd_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream, x, dy,
                             dx, n));
  });
}

}  // namespace ecsim
