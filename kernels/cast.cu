// fp32 -> bf16 conversion, round to nearest even (__float2bfloat16): in [n] fp32 -> out [n] bf16.
// Reference: the same rounding on the host (cuda_bf16.h). Test: ctest -R cast
// (tests/kernels/runner_gpu_test.cpp; skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "cast.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    cast_kernel(const float* __restrict__ in, __nv_bfloat16* __restrict__ out, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float v[kVec];
    load_chunk<kVec>(in + i, v);
    store_chunk<kVec>(out + i, v);
  });
}

}  // namespace

void cast_fp32_to_bf16(const float* in, __nv_bfloat16* out, std::int64_t n, cudaStream_t stream) {
  require_positive(n, "cast_fp32_to_bf16", "n");
  require_pointers("cast_fp32_to_bf16", {{"in", in}, {"out", out}});
  launch_by_chunk(chunks_vectorizable(n, {in, out}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(
        launch_kernel(cast_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream, in, out, n));
  });
}

}  // namespace ecsim
