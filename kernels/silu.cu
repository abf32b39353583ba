// SiLU (op `silu`), the activation inside DiT's timestep MLP:
//   silu(x) = x sigmoid(x);  silu'(x) = s (1 + x (1 - s)),  s = sigmoid(x)
//   x, y, dy, dx [n] bf16, arithmetic in fp32, one rounding per stored value.
// CPU reference: model_ref/silu.hpp. Test: ctest -R silu (tests/kernels/runner_gpu_test.cpp;
// skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "silu.cuh"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

__device__ inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void __launch_bounds__(kThreads)
    silu_fwd_kernel(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const float v = __bfloat162float(x[i]);
    y[i] = __float2bfloat16(v * sigmoid(v));
  }
}

__global__ void __launch_bounds__(kThreads)
    silu_bwd_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ dy,
                    __nv_bfloat16* __restrict__ dx, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const float v = __bfloat162float(x[i]);
    const float s = sigmoid(v);
    dx[i] = __float2bfloat16(__bfloat162float(dy[i]) * s * (1.0f + v * (1.0f - s)));
  }
}

}  // namespace

void silu_fwd(const __nv_bfloat16* x, __nv_bfloat16* y, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "silu_fwd", "n");
  require_pointers("silu_fwd", {{"x", x}, {"y", y}});
  CUDA_CHECK(launch_kernel(silu_fwd_kernel, elementwise_blocks(n, kThreads), kThreads, 0, stream, x, y, n));
}

void silu_bwd(const __nv_bfloat16* x, const __nv_bfloat16* dy, __nv_bfloat16* dx, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "silu_bwd", "n");
  require_pointers("silu_bwd", {{"x", x}, {"dy", dy}, {"dx", dx}});
  CUDA_CHECK(launch_kernel(silu_bwd_kernel, elementwise_blocks(n, kThreads), kThreads, 0, stream, x, dy, dx, n));
}

}  // namespace ecsim
