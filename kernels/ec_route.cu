// Expert-choice routing (EC-DiT; op `ec_route`): router softmax, then each expert takes the C
// tokens of highest affinity within every routing group of G tokens.
//   logits, probs [T, E] fp32; token, gate [E, groups, C]; slot_of [T, E] (-1: not taken)
// ec_select runs one block per (group, expert). It sorts the group's G affinities for that expert
// in shared memory with a bitonic sort on 64-bit keys (~bits(p) << 32 | token): non-negative
// floats order like their bit patterns, so one ascending integer sort gives affinity descending,
// ties to the lower token, exactly the CPU reference's order. The first C keys are the choice;
// a flag per token and a block scan then write them in token order. (G/4) log2 G (log2 G + 1)
// compare-swaps per block (about 28K for G = 1024) keep it far below the expert GEMMs' cost. The
// column read of probs is strided by E, one 4-byte value per 32-byte sector; probs was written by
// the softmax just before (17 MB at 65536 tokens and 64 experts), so those reads come from L2.
// CPU reference: ref/expert_choice.hpp. Test: ctest -R "expert choice" (tests/kernels/
// expert_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// expert_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include <string>

#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "ec_route.cuh"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "router_softmax.cuh"

namespace ecsim {
namespace {

constexpr int kSelectThreads = 512;
constexpr int kThreads = 256;
constexpr unsigned long long kPaddingKey = ~0ull;  // sorts after every real key

int sort_length(std::int64_t group_tokens) {
  int n = 1;
  while (n < group_tokens) n *= 2;
  return n;
}

// grid = (groups, E); dynamic shared memory: keys [n] u64, then flags [G] u8.
__global__ void __launch_bounds__(kSelectThreads)
    ec_select_kernel(const float* __restrict__ probs, int* __restrict__ token, float* __restrict__ gate,
                     int* __restrict__ slot_of, int experts, int group_tokens, int capacity, int sort_n) {
  auto* keys = reinterpret_cast<unsigned long long*>(dynamic_shared_memory());  // [sort_n]
  unsigned char* chosen = reinterpret_cast<unsigned char*>(keys + sort_n);  // [G]
  const int g = blockIdx.x;
  const int e = blockIdx.y;
  const int groups = gridDim.x;
  const std::int64_t first = static_cast<std::int64_t>(g) * group_tokens;
  for (int i = threadIdx.x; i < sort_n; i += kSelectThreads) {
    if (i < group_tokens) {
      const unsigned bits = __float_as_uint(probs[(first + i) * experts + e]);
      keys[i] = (static_cast<unsigned long long>(~bits) << 32) | static_cast<unsigned>(i);
      chosen[i] = 0;
    } else {
      keys[i] = kPaddingKey;
    }
  }
  __syncthreads();
  for (int k = 2; k <= sort_n; k *= 2) {
    for (int j = k / 2; j > 0; j /= 2) {
      for (int i = threadIdx.x; i < sort_n; i += kSelectThreads) {
        const int partner = i ^ j;
        if (partner > i) {
          const bool ascending = (i & k) == 0;
          const unsigned long long a = keys[i], b = keys[partner];
          if ((a > b) == ascending) {
            keys[i] = b;
            keys[partner] = a;
          }
        }
      }
      __syncthreads();
    }
  }
  for (int c = threadIdx.x; c < capacity; c += kSelectThreads) chosen[keys[c] & 0xffffffffu] = 1;
  __syncthreads();
  // Each thread owns a contiguous run of tokens; the scan of the runs' counts gives each chosen
  // token its place among the C slots in token order.
  const int run = (group_tokens + kSelectThreads - 1) / kSelectThreads;
  const int begin = min(group_tokens, static_cast<int>(threadIdx.x) * run);
  const int end = min(group_tokens, begin + run);
  int count = 0;
  for (int i = begin; i < end; ++i) count += chosen[i];
  int total = 0;
  int place = block_exclusive_scan<kSelectThreads>(count, total);
  const std::int64_t slot_base = (static_cast<std::int64_t>(e) * groups + g) * capacity;
  for (int i = begin; i < end; ++i) {
    const std::int64_t t = first + i;
    if (chosen[i]) {
      const std::int64_t slot = slot_base + place++;
      token[slot] = static_cast<int>(t);
      gate[slot] = probs[t * experts + e];
      slot_of[t * experts + e] = static_cast<int>(slot);
    } else {
      slot_of[t * experts + e] = -1;
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    ec_gate_bwd_kernel(const float* __restrict__ dgate, const int* __restrict__ slot_of, float* __restrict__ dprobs,
                       std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const int slot = slot_of[i];
    dprobs[i] = slot >= 0 ? dgate[slot] : 0.0f;
  }
}

}  // namespace

void check_expert_choice_dims(const ExpertChoiceDims& d, const char* op) {
  const std::string name(op);
  require_positive(d.tokens, op, "tokens");
  require_positive(d.experts, op, "experts");
  require_positive(d.group_tokens, op, "group_tokens");
  require(d.tokens % d.group_tokens == 0, name + ": group_tokens " + std::to_string(d.group_tokens) +
                                              " does not divide tokens " + std::to_string(d.tokens));
  require(d.group_tokens <= kMaxGroupTokens, name + ": group_tokens " + std::to_string(d.group_tokens) +
                                                 " exceeds the " + std::to_string(kMaxGroupTokens) +
                                                 " a block sorts in shared memory");
  require(d.capacity >= 1 && d.capacity <= d.group_tokens,
          name + ": capacity " + std::to_string(d.capacity) + " outside [1, group_tokens]");
  require(d.experts <= kMaxExperts, name + ": experts " + std::to_string(d.experts) + " exceeds the " +
                                        std::to_string(kMaxExperts) + " the combine holds in shared memory");
  require_int32(d.tokens * d.experts, op, "tokens * experts");
  require_int32(d.slots(), op, "slots (experts * groups * capacity)");
}

void ec_route(const float* logits, float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
              cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_route");
  router_softmax_fwd(logits, probs, d.tokens, d.experts, stream);
  ec_select(probs, token, gate, slot_of, d, stream);
}

void ec_select(const float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
               cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_select");
  require_pointers("ec_select", {{"probs", probs}, {"token", token}, {"gate", gate}, {"slot_of", slot_of}});
  const int sort_n = sort_length(d.group_tokens);
  const std::size_t shared =
      static_cast<std::size_t>(sort_n) * sizeof(unsigned long long) + static_cast<std::size_t>(d.group_tokens);
  const dim3 grid(static_cast<unsigned>(d.groups()), static_cast<unsigned>(d.experts));
  CUDA_CHECK(launch_kernel(ec_select_kernel, grid, kSelectThreads, shared, stream, probs, token, gate, slot_of,
                           static_cast<int>(d.experts), static_cast<int>(d.group_tokens), static_cast<int>(d.capacity),
                           sort_n));
}

void ec_gate_bwd(const float* dgate, const int* slot_of, float* dprobs, const ExpertChoiceDims& d,
                 cudaStream_t stream) {
  check_expert_choice_dims(d, "ec_gate_bwd");
  require_pointers("ec_gate_bwd", {{"dgate", dgate}, {"slot_of", slot_of}, {"dprobs", dprobs}});
  const std::int64_t n = d.tokens * d.experts;
  CUDA_CHECK(launch_kernel(ec_gate_bwd_kernel, elementwise_blocks(n, kThreads), kThreads, 0, stream, dgate, slot_of,
                           dprobs, n));
}

}  // namespace ecsim
