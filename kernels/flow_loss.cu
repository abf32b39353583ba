// Rectified-flow training loss (op `flow_loss`): mean squared error between the predicted and the
// target velocity, and its gradient.
//   pred, target, dpred [n] bf16; loss fp32 scalar; fp32 accumulation.
// The mean is a two-stage reduction with a fixed grid (kFlowLossPartials blocks, each thread
// striding the same elements every run, then one block adding the partials in order), so the
// loss is bitwise reproducible; atomics would make it depend on block scheduling.
// CPU reference: ref/flow_loss.hpp. Test: ctest -R "flow loss" (tests/kernels/
// elementwise_gpu_test.cpp; skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "flow_loss.cuh"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

// grid = kFlowLossPartials blocks; partials[block] = its share of sum (pred - target)^2.
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    flow_loss_partials_kernel(const __nv_bfloat16* __restrict__ pred, const __nv_bfloat16* __restrict__ target,
                              float* __restrict__ partials, std::int64_t n) {
  float sum = 0;
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float p[kVec], t[kVec];
    load_chunk<kVec>(pred + i, p);
    load_chunk<kVec>(target + i, t);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float diff = p[j] - t[j];
      sum += diff * diff;
    }
  });
  sum = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// One block: loss = (sum of the partials) / n.
__global__ void __launch_bounds__(kThreads)
    flow_loss_finish_kernel(const float* __restrict__ partials, float* __restrict__ loss, std::int64_t n) {
  float sum = 0;
  for (int i = threadIdx.x; i < kFlowLossPartials; i += kThreads) sum += partials[i];
  sum = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) loss[0] = sum / static_cast<float>(n);
}

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    flow_loss_bwd_kernel(const __nv_bfloat16* __restrict__ pred, const __nv_bfloat16* __restrict__ target, float factor,
                         __nv_bfloat16* __restrict__ dpred, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    float p[kVec], t[kVec];
    load_chunk<kVec>(pred + i, p);
    load_chunk<kVec>(target + i, t);
#pragma unroll
    for (int j = 0; j < kVec; ++j) p[j] = factor * (p[j] - t[j]);
    store_chunk<kVec>(dpred + i, p);
  });
}

}  // namespace

void flow_loss_fwd(const __nv_bfloat16* pred, const __nv_bfloat16* target, float* partials, float* loss, std::int64_t n,
                   cudaStream_t stream) {
  constexpr const char* op = "flow_loss_fwd";
  require_positive(n, op, "n");
  require_pointers(op, {{"pred", pred}, {"target", target}, {"partials", partials}, {"loss", loss}});
  launch_by_chunk(chunks_vectorizable(n, {pred, target}), [&](auto chunk) {
    CUDA_CHECK(launch_kernel(flow_loss_partials_kernel<decltype(chunk)::value>, kFlowLossPartials, kThreads, 0, stream,
                             pred, target, partials, n));
  });
  CUDA_CHECK(launch_kernel(flow_loss_finish_kernel, 1, kThreads, 0, stream, partials, loss, n));
}

void flow_loss_bwd(const __nv_bfloat16* pred, const __nv_bfloat16* target, float dloss, __nv_bfloat16* dpred,
                   std::int64_t n, cudaStream_t stream) {
  constexpr const char* op = "flow_loss_bwd";
  require_positive(n, op, "n");
  require_pointers(op, {{"pred", pred}, {"target", target}, {"dpred", dpred}});
  const auto factor = static_cast<float>(2.0 * static_cast<double>(dloss) / static_cast<double>(n));
  launch_by_chunk(chunks_vectorizable(n, {pred, target, dpred}), [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(flow_loss_bwd_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0, stream,
                             pred, target, factor, dpred, n));
  });
}

}  // namespace ecsim
