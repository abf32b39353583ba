// Expert-choice dispatch and combine (ops `permute`, `unpermute`):
//   gather   xe[slot] = x[token[slot]]                          x [T, d] -> xe [E * groups * C, d]
//   combine  y[t] = sum_e gate[slot_of[t, e]] * ye[slot_of[t, e]] ye [slots, d] -> y [T, d]
// bf16 rows, fp32 accumulation. The combine is a gather-sum from the token's side (row_gather_sum.cuh):
// one block per token walks its experts in ascending order, so every output has a fixed summation
// order and no atomics (a scatter-add from the slots' side would depend on scheduling). The same
// kernel, with unit weights, is the gather's backward.
// CPU reference: ref/expert_choice.hpp. Test: ctest -R "expert choice" (tests/kernels/
// expert_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// expert_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include "cuda_check.hpp"
#include "ec_permute.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "row_gather_sum.cuh"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

// One block per slot: copies row token[slot] of x.
__global__ void __launch_bounds__(kThreads)
    ec_gather_kernel(const __nv_bfloat16* __restrict__ x, const int* __restrict__ token, __nv_bfloat16* __restrict__ xe,
                     int hidden) {
  const std::int64_t slot = blockIdx.x;
  const __nv_bfloat16* src = x + static_cast<std::int64_t>(token[slot]) * hidden;  // [d]
  for (int c = threadIdx.x; c < hidden; c += kThreads) xe[slot * hidden + c] = src[c];
}

// One block per slot: dye = gate * dy[token], dgate = <dy[token], ye[slot]>.
__global__ void __launch_bounds__(kGatherSumThreads)
    ec_combine_bwd_kernel(const __nv_bfloat16* __restrict__ ye, const __nv_bfloat16* __restrict__ dy,
                          const int* __restrict__ token, const float* __restrict__ gate,
                          __nv_bfloat16* __restrict__ dye, float* __restrict__ dgate, int hidden) {
  const std::int64_t slot = blockIdx.x;
  const float dot = combine_bwd_row(dy + static_cast<std::int64_t>(token[slot]) * hidden, ye + slot * hidden,
                                    gate[slot], dye + slot * hidden, hidden);
  if (threadIdx.x == 0) dgate[slot] = dot;
}

void check_hidden(std::int64_t hidden, const char* op) {
  require_positive(hidden, op, "hidden");
  require_int32(hidden, op, "hidden");
}

std::size_t combine_shared_bytes(const ExpertChoiceDims& d) {
  return static_cast<std::size_t>(d.experts) * sizeof(int);
}

}  // namespace

void ec_gather(const __nv_bfloat16* x, const int* token, __nv_bfloat16* xe, const ExpertChoiceDims& d,
               std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_gather");
  check_hidden(hidden, "ec_gather");
  require_pointers("ec_gather", {{"x", x}, {"token", token}, {"xe", xe}});
  CUDA_CHECK(launch_kernel(ec_gather_kernel, static_cast<unsigned>(d.slots()), kThreads, 0, stream, x, token, xe,
                           static_cast<int>(hidden)));
}

void ec_gather_bwd(const __nv_bfloat16* dxe, const int* slot_of, __nv_bfloat16* dx, const ExpertChoiceDims& d,
                   std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_gather_bwd");
  check_hidden(hidden, "ec_gather_bwd");
  require_pointers("ec_gather_bwd", {{"dxe", dxe}, {"slot_of", slot_of}, {"dx", dx}});
  CUDA_CHECK(launch_kernel(gather_sum_kernel<RowWeight::kOne>, static_cast<unsigned>(d.tokens), kGatherSumThreads,
                           combine_shared_bytes(d), stream, dxe, slot_of, nullptr, dx, static_cast<int>(d.experts),
                           static_cast<int>(hidden)));
}

void ec_combine(const __nv_bfloat16* ye, const int* slot_of, const float* gate, __nv_bfloat16* y,
                const ExpertChoiceDims& d, std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_combine");
  check_hidden(hidden, "ec_combine");
  require_pointers("ec_combine", {{"ye", ye}, {"slot_of", slot_of}, {"gate", gate}, {"y", y}});
  CUDA_CHECK(launch_kernel(gather_sum_kernel<RowWeight::kByRow>, static_cast<unsigned>(d.tokens), kGatherSumThreads,
                           combine_shared_bytes(d), stream, ye, slot_of, gate, y, static_cast<int>(d.experts),
                           static_cast<int>(hidden)));
}

void ec_combine_bwd(const __nv_bfloat16* ye, const __nv_bfloat16* dy, const int* token, const float* gate,
                    __nv_bfloat16* dye, float* dgate, const ExpertChoiceDims& d, std::int64_t hidden,
                    cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_combine_bwd");
  check_hidden(hidden, "ec_combine_bwd");
  require_pointers("ec_combine_bwd",
                   {{"ye", ye}, {"dy", dy}, {"token", token}, {"gate", gate}, {"dye", dye}, {"dgate", dgate}});
  CUDA_CHECK(launch_kernel(ec_combine_bwd_kernel, static_cast<unsigned>(d.slots()), kGatherSumThreads, 0, stream, ye,
                           dy, token, gate, dye, dgate, static_cast<int>(hidden)));
}

}  // namespace ecsim
