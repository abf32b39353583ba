// GeLU in its tanh form (op `gelu`), the activation between the two GEMMs of every FFN and expert:
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   x, y, dy, dx [n] bf16, arithmetic in fp32, one rounding per stored value.
// The backward recomputes tanh(u) from x rather than saving it: one more transcendental is cheaper
// than another tensor's worth of memory traffic.
// CPU reference: ref/gelu.hpp. Test: ctest -R gelu (tests/kernels/elementwise_gpu_test.cpp;
// skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "gelu.cuh"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// tanh(u), u = sqrt(2/pi) (v + 0.044715 v^3).
__device__ __forceinline__ float gelu_tanh(float v) { return tanhf(kSqrt2OverPi * (v + kCubic * v * v * v)); }

__device__ __forceinline__ float gelu(float v) { return 0.5f * v * (1.0f + gelu_tanh(v)); }

// dgelu/dx times dy.
__device__ __forceinline__ float gelu_grad(float v, float dy) {
  const float th = gelu_tanh(v);
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
  return dy * (0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du);
}

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    gelu_fwd_kernel(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float v[kVec];
    load_chunk<kVec>(x + i, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = gelu(v[j]);
    store_chunk<kVec>(y + i, v);
  });
}

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    gelu_bwd_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ dy,
                    __nv_bfloat16* __restrict__ dx, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float v[kVec], g[kVec];
    load_chunk<kVec>(x + i, v);
    load_chunk<kVec>(dy + i, g);
#pragma unroll
    for (int j = 0; j < kVec; ++j) g[j] = gelu_grad(v[j], g[j]);
    store_chunk<kVec>(dx + i, g);
  });
}

}  // namespace

void gelu_fwd(const __nv_bfloat16* x, __nv_bfloat16* y, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "gelu_fwd", "n");
  require_pointers("gelu_fwd", {{"x", x}, {"y", y}});
  launch_by_chunk(chunks_vectorizable(n, {x, y}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(gelu_fwd_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream, x, y,
                             n));
  });
}

void gelu_bwd(const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dx, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "gelu_bwd", "n");
  require_pointers("gelu_bwd", {{"x", x}, {"dy", dy}, {"dx", dx}});
  launch_by_chunk(chunks_vectorizable(n, {x, dy, dx}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(gelu_bwd_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream, x, dy,
                             dx, n));
  });
}

}  // namespace ecsim
