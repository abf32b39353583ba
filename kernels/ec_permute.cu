// Expert-choice dispatch and combine (ops `permute`, `unpermute`):
//   gather   xe[slot] = x[token[slot]]                          x [T, d] -> xe [E * groups * C, d]
//   combine  y[t] = sum_e gate[slot_of[t, e]] * ye[slot_of[t, e]] ye [slots, d] -> y [T, d]
// bf16 rows, fp32 accumulation. The combine is a gather-sum from the token's side: one block per
// token walks its experts in ascending order, so every output has a fixed summation order and no
// atomics (a scatter-add from the slots' side would depend on scheduling). The same kernel, with
// unit weights, is the gather's backward.
// CPU reference: ref/expert_choice.hpp. Test: ctest -R "expert choice" (tests/kernels/
// expert_choice_gpu_test.cpp; skipped without a GPU).
#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "ec_permute.cuh"
#include "launch_check.hpp"

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

// One block per token; dynamic shared memory holds the token's slot per expert [E]. kGated
// chooses between the combine (gate weights) and the gather's backward (unit weights).
template <bool kGated>
__global__ void __launch_bounds__(kThreads)
    ec_combine_kernel(const __nv_bfloat16* __restrict__ rows, const int* __restrict__ slot_of,
                      const float* __restrict__ gate, __nv_bfloat16* __restrict__ out, int experts, int hidden) {
  extern __shared__ int token_slots[];  // [E]
  const std::int64_t t = blockIdx.x;
  for (int e = threadIdx.x; e < experts; e += kThreads) token_slots[e] = slot_of[t * experts + e];
  __syncthreads();
  for (int c = threadIdx.x; c < hidden; c += kThreads) {
    float acc = 0;
    for (int e = 0; e < experts; ++e) {
      const int slot = token_slots[e];
      if (slot < 0) continue;
      const float v = __bfloat162float(rows[static_cast<std::int64_t>(slot) * hidden + c]);
      acc += kGated ? gate[slot] * v : v;
    }
    out[t * hidden + c] = __float2bfloat16(acc);
  }
}

// One block per slot: dye = gate * dy[token], dgate = <dy[token], ye[slot]>.
__global__ void __launch_bounds__(kThreads)
    ec_combine_bwd_kernel(const __nv_bfloat16* __restrict__ ye, const __nv_bfloat16* __restrict__ dy,
                          const int* __restrict__ token, const float* __restrict__ gate,
                          __nv_bfloat16* __restrict__ dye, float* __restrict__ dgate, int hidden) {
  const std::int64_t slot = blockIdx.x;
  const __nv_bfloat16* dyr = dy + static_cast<std::int64_t>(token[slot]) * hidden;  // [d]
  const float g = gate[slot];
  float dot = 0;
  for (int c = threadIdx.x; c < hidden; c += kThreads) {
    const float d = __bfloat162float(dyr[c]);
    dye[slot * hidden + c] = __float2bfloat16(g * d);
    dot += d * __bfloat162float(ye[slot * hidden + c]);
  }
  dot = block_sum<kThreads>(dot);
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
  ec_gather_kernel<<<static_cast<unsigned>(d.slots()), kThreads, 0, stream>>>(x, token, xe, static_cast<int>(hidden));
  CUDA_CHECK(cudaGetLastError());
}

void ec_gather_bwd(const __nv_bfloat16* dxe, const int* slot_of, __nv_bfloat16* dx, const ExpertChoiceDims& d,
                   std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_gather_bwd");
  check_hidden(hidden, "ec_gather_bwd");
  require_pointers("ec_gather_bwd", {{"dxe", dxe}, {"slot_of", slot_of}, {"dx", dx}});
  ec_combine_kernel<false><<<static_cast<unsigned>(d.tokens), kThreads, combine_shared_bytes(d), stream>>>(
      dxe, slot_of, nullptr, dx, static_cast<int>(d.experts), static_cast<int>(hidden));
  CUDA_CHECK(cudaGetLastError());
}

void ec_combine(const __nv_bfloat16* ye, const int* slot_of, const float* gate, __nv_bfloat16* y,
                const ExpertChoiceDims& d, std::int64_t hidden, cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_combine");
  check_hidden(hidden, "ec_combine");
  require_pointers("ec_combine", {{"ye", ye}, {"slot_of", slot_of}, {"gate", gate}, {"y", y}});
  ec_combine_kernel<true><<<static_cast<unsigned>(d.tokens), kThreads, combine_shared_bytes(d), stream>>>(
      ye, slot_of, gate, y, static_cast<int>(d.experts), static_cast<int>(hidden));
  CUDA_CHECK(cudaGetLastError());
}

void ec_combine_bwd(const __nv_bfloat16* ye, const __nv_bfloat16* dy, const int* token, const float* gate,
                    __nv_bfloat16* dye, float* dgate, const ExpertChoiceDims& d, std::int64_t hidden,
                    cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_combine_bwd");
  check_hidden(hidden, "ec_combine_bwd");
  require_pointers("ec_combine_bwd",
                   {{"ye", ye}, {"dy", dy}, {"token", token}, {"gate", gate}, {"dye", dye}, {"dgate", dgate}});
  ec_combine_bwd_kernel<<<static_cast<unsigned>(d.slots()), kThreads, 0, stream>>>(ye, dy, token, gate, dye, dgate,
                                                                                   static_cast<int>(hidden));
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace ecsim
