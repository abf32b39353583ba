// Expert-choice routing (EC-DiT; op `ec_route`): router softmax, then each expert takes the C
// tokens of highest affinity within every routing group of G tokens.
//   logits, probs [T, E] fp32; token, gate [E, groups, C]; slot_of [T, E] (-1: not taken)
// ec_select gives each (group, expert) one warp, which holds the group's G affinities for that
// expert in registers (token 32 k + lane in element k of the lane). Non-negative floats order like
// their bit patterns, so the C-th largest affinity v is found bit by bit on the 32-bit patterns: 32
// rounds of "do at least C keys reach v | bit?", each a count over the registers and a warp sum.
// The choice is then every key above v and, of the keys equal to v, the lowest token indices, up
// to C: exactly the CPU reference's order (affinity descending, ties to the lower token). One pass
// over the group in token order, one warp scan per 32 tokens, places the chosen tokens in their
// C slots in token order. Every warp sum is one redux.sync, every count before a lane two ballots
// (block_reduce.cuh), where five dependent shuffles each took their place until the sixth session
// of 2026-11-28 (not yet timed on a GPU; ptxas: 80 registers at G 1024 either way, no spills).
// No shared memory and no block barrier: about 33 G compares per (group,
// expert), against a bitonic sort's (G/2) log2 G (log2 G + 1) / 2 shared-memory compare-swaps of
// 64-bit keys, which ran at 0.31 ms for 65536 tokens and 64 experts on an H100 (2026-11-27;
// replaced 2026-11-28). A block's warps take neighbouring experts of one group, so that their
// strided column reads of probs (one 4-byte value per token, stride E) share 32-byte sectors;
// probs was written by the softmax just before (17 MB at 65536 tokens and 64 experts), so those
// reads come from L2.
// CPU reference: ref/expert_choice.hpp. Test: ctest -R "expert choice" (tests/kernels/
// expert_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// expert_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include <algorithm>
#include <cstdint>
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

constexpr int kSelectWarps = 8;  // experts per block
constexpr int kThreads = 256;

// grid = (groups, ceil(E / warps per block)); block = one warp per expert. A lane holds kPerLane
// keys: 32 kPerLane >= G.
template <int kPerLane>
__global__ void __launch_bounds__(kSelectWarps * kWarpSize)
    ec_select_kernel(const float* __restrict__ probs, int* __restrict__ token, float* __restrict__ gate,
                     int* __restrict__ slot_of, int experts, int group_tokens, int capacity) {
  const int lane = threadIdx.x % kWarpSize;
  const int e = blockIdx.y * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
  if (e >= experts) return;  // a whole warp: the kernel has no block barrier
  const int g = blockIdx.x;
  const int groups = gridDim.x;
  const int first = g * group_tokens;  // T E < 2^31 (check_expert_choice_dims): int offsets below
  const float* column = probs + static_cast<std::int64_t>(first) * experts + e;
  int* taken_slot = slot_of + static_cast<std::int64_t>(first) * experts + e;
  unsigned key[kPerLane];  // 0 past the group: never counted, since every candidate below is >= 1
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int i = k * kWarpSize + lane;
    key[k] = i < group_tokens ? __float_as_uint(column[i * experts]) : 0u;
  }
  // v: the largest pattern that at least C keys reach, i.e. the C-th largest key.
  unsigned v = 0;
  for (int bit = 31; bit >= 0; --bit) {
    const unsigned candidate = v | (1u << bit);
    int reach = 0;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) reach += key[k] >= candidate ? 1 : 0;
    if (warp_sum(reach) >= capacity) v = candidate;
  }
  int above = 0;
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) above += key[k] > v ? 1 : 0;
  const int ties_taken = capacity - warp_sum(above);  // >= 1: how many keys equal to v are chosen
  const int slot_base = (e * groups + g) * capacity;
  // Two votes per 32 tokens count the keys above v and equal to v before each lane (a ballot's
  // bits below the lane); ties are chosen in token order while ties_taken lasts.
  const unsigned below = lanes_below();
  int placed = 0;       // chosen tokens in earlier passes
  int ties_before = 0;  // keys equal to v in earlier passes
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    if (k * kWarpSize >= group_tokens) break;  // the same for every lane
    const int i = k * kWarpSize + lane;
    const bool inside = i < group_tokens;
    const bool over = inside && key[k] > v;
    const bool tie = inside && key[k] == v;
    const unsigned over_votes = __ballot_sync(kFullMask, over);
    const unsigned tie_votes = __ballot_sync(kFullMask, tie);
    const int ties_chosen_before = min(ties_before, ties_taken);
    const int tie_rank = ties_before + __popc(tie_votes & below);
    const int place = placed + __popc(over_votes & below) + min(tie_rank, ties_taken) - ties_chosen_before;
    placed += __popc(over_votes) + min(ties_before + __popc(tie_votes), ties_taken) - ties_chosen_before;
    ties_before += __popc(tie_votes);
    if (!inside) continue;
    if (over || (tie && tie_rank < ties_taken)) {
      const int slot = slot_base + place;
      token[slot] = first + i;
      gate[slot] = __uint_as_float(key[k]);
      taken_slot[i * experts] = slot;
    } else {
      taken_slot[i * experts] = -1;
    }
  }
}

// The instance whose lanes hold a group: the smallest power of two kPerLane with 32 kPerLane >= G.
template <int kPerLane = 1>
cudaError_t launch_select(const float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
                          cudaStream_t stream) {
  if constexpr (kPerLane < kMaxGroupTokens / kWarpSize) {
    if (d.group_tokens > static_cast<std::int64_t>(kPerLane) * kWarpSize) {
      return launch_select<2 * kPerLane>(probs, token, gate, slot_of, d, stream);
    }
  }
  const int warps = static_cast<int>(std::min<std::int64_t>(kSelectWarps, d.experts));
  const dim3 grid(static_cast<unsigned>(d.groups()), static_cast<unsigned>((d.experts + warps - 1) / warps));
  return launch_kernel(ec_select_kernel<kPerLane>, grid, warps * kWarpSize, 0, stream, probs, token, gate, slot_of,
                       static_cast<int>(d.experts), static_cast<int>(d.group_tokens), static_cast<int>(d.capacity));
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
                                                 " a warp holds in registers");
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
  CUDA_CHECK(launch_select(probs, token, gate, slot_of, d, stream));
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
