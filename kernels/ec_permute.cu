// Expert-choice dispatch and combine (ops `permute`, `unpermute`):
//   gather   xe[slot] = x[token[slot]]                          x [T, d] -> xe [E * groups * C, d]
//   combine  y[t] = sum_e gate[slot_of[t, e]] * ye[slot_of[t, e]] ye [slots, d] -> y [T, d]
// bf16 rows, fp32 accumulation, moved in 16-byte chunks where the row length and the buffers allow
// (bf16_chunks.cuh). The combine is a gather-sum from the token's side (row_gather_sum.cuh):
// one block per token walks its experts in ascending order, so every output has a fixed summation
// order and no atomics (a scatter-add from the slots' side would depend on scheduling). The same
// kernel, with unit weights, is the gather's backward.
// CPU reference: ref/expert_choice.hpp. Test: ctest -R "expert choice" (tests/kernels/
// expert_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// expert_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include "bf16_chunks.cuh"
#include "cuda_check.hpp"
#include "ec_permute.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "row_gather_sum.cuh"

namespace ecsim {
namespace {

constexpr int kWarpsPerBlock = 8;  // rows per block in the gather: one warp each
constexpr int kThreads = kWarpsPerBlock * kWarpSize;

// One warp per slot; the slots are visited group by group (then expert, then position), so the
// experts that take tokens of one routing group read its rows one after another: after the first
// read they come from L2 (a group is G d 2 bytes, 4 MiB at G 1024, d 2048) rather than HBM, where
// visiting in slot order (expert-major) sweeps the whole of x once per expert.
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    ec_gather_kernel(const __nv_bfloat16* __restrict__ x, const int* __restrict__ token, __nv_bfloat16* __restrict__ xe,
                     int experts, int groups, int capacity, int hidden) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  const std::int64_t per_group = static_cast<std::int64_t>(experts) * capacity;
  if (i >= per_group * groups) return;  // whole warps leave together
  const std::int64_t g = i / per_group;
  const std::int64_t e = i % per_group / capacity;
  const std::int64_t slot = (e * groups + g) * capacity + i % capacity;
  warp_copy_row<kVec>(xe + slot * hidden, x + static_cast<std::int64_t>(token[slot]) * hidden, hidden,
                      static_cast<int>(threadIdx.x) % kWarpSize);
}

// One block per slot: dye = gate * dy[token], dgate = <dy[token], ye[slot]>.
template <int kVec>
__global__ void __launch_bounds__(kGatherSumThreads)
    ec_combine_bwd_kernel(const __nv_bfloat16* __restrict__ ye, const __nv_bfloat16* __restrict__ dy,
                          const int* __restrict__ token, const float* __restrict__ gate,
                          __nv_bfloat16* __restrict__ dye, float* __restrict__ dgate, int hidden) {
  const std::int64_t slot = blockIdx.x;
  const float dot = combine_bwd_row<kVec>(dy + static_cast<std::int64_t>(token[slot]) * hidden, ye + slot * hidden,
                                          gate[slot], dye + slot * hidden, hidden);
  if (threadIdx.x == 0) dgate[slot] = dot;
}

void check_hidden(std::int64_t hidden, const char* op) {
  require_positive(hidden, op, "hidden");
  require_int32(hidden, op, "hidden");
}

}  // namespace

void ec_gather(const __nv_bfloat16* x, const int* token, __nv_bfloat16* xe, const ExpertChoiceDims& d,
               std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_gather");
  check_hidden(hidden, "ec_gather");
  require_pointers("ec_gather", {{"x", x}, {"token", token}, {"xe", xe}});
  // check_expert_choice_dims keeps the slots within 32 bits.
  const auto blocks = static_cast<unsigned>((d.slots() + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_by_chunk(chunks_vectorizable(hidden, {x, xe}), [&](auto chunk) {
    CUDA_CHECK(launch_kernel(ec_gather_kernel<decltype(chunk)::value>, blocks, kThreads, 0, stream, x, token, xe,
                             static_cast<int>(d.experts), static_cast<int>(d.groups()),
                             static_cast<int>(d.capacity), static_cast<int>(hidden)));
  });
}

void ec_gather_bwd(const __nv_bfloat16* dxe, const int* slot_of, __nv_bfloat16* dx, const ExpertChoiceDims& d,
                   std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_gather_bwd");
  check_hidden(hidden, "ec_gather_bwd");
  require_pointers("ec_gather_bwd", {{"dxe", dxe}, {"slot_of", slot_of}, {"dx", dx}});
  CUDA_CHECK(launch_gather_sum<RowWeight::kOne>(dxe, slot_of, nullptr, dx, d.tokens, d.experts, hidden, stream));
}

void ec_combine(const __nv_bfloat16* ye, const int* slot_of, const float* gate, __nv_bfloat16* y,
                const ExpertChoiceDims& d, std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_combine");
  check_hidden(hidden, "ec_combine");
  require_pointers("ec_combine", {{"ye", ye}, {"slot_of", slot_of}, {"gate", gate}, {"y", y}});
  CUDA_CHECK(launch_gather_sum<RowWeight::kByRow>(ye, slot_of, gate, y, d.tokens, d.experts, hidden, stream));
}

void ec_combine_bwd(const __nv_bfloat16* ye, const __nv_bfloat16* dy, const int* token, const float* gate,
                    __nv_bfloat16* dye, float* dgate, const ExpertChoiceDims& d, std::int64_t hidden,
                    cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_combine_bwd");
  check_hidden(hidden, "ec_combine_bwd");
  require_pointers("ec_combine_bwd",
                   {{"ye", ye}, {"dy", dy}, {"token", token}, {"gate", gate}, {"dye", dye}, {"dgate", dgate}});
  launch_by_chunk(chunks_vectorizable(hidden, {ye, dy, dye}), [&](auto chunk) {
    CUDA_CHECK(launch_kernel(ec_combine_bwd_kernel<decltype(chunk)::value>, static_cast<unsigned>(d.slots()),
                             kGatherSumThreads, 0, stream, ye, dy, token, gate, dye, dgate, static_cast<int>(hidden)));
  });
}

}  // namespace ecsim
