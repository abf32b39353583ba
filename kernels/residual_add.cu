// The plain residual add (op `residual_add`): out = x + y, x, y, out [n] bf16, fp32 sum rounded
// once. The runner also uses it where two gradient paths meet (a norm's dx and the residual's).
// Reference: x + y in fp64. Test: ctest -R residual_add (tests/kernels/runner_gpu_test.cpp;
// skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "residual_add.cuh"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

// No __restrict__: out may alias x or y (each element is read before it is written, by one thread).
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    residual_add_kernel(const __nv_bfloat16* x, const __nv_bfloat16* y, __nv_bfloat16* out, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float a[kVec], b[kVec];
    load_chunk<kVec>(x + i, a);
    load_chunk<kVec>(y + i, b);
#pragma unroll
    for (int j = 0; j < kVec; ++j) a[j] += b[j];
    store_chunk<kVec>(out + i, a);
  });
}

}  // namespace

void residual_add(const __nv_bfloat16* x, const __nv_bfloat16* y, __nv_bfloat16* out, std::int64_t n,
                  cudaStream_t stream) {
  require_positive(n, "residual_add", "n");
  require_pointers("residual_add", {{"x", x}, {"y", y}, {"out", out}});
  launch_by_chunk(chunks_vectorizable(n, {x, y, out}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(residual_add_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream, x,
                             y, out, n));
  });
}

}  // namespace ecsim
