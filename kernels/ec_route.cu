// Expert-choice routing (EC-DiT; op `ec_route`): router softmax, then each expert takes the C
// tokens of highest affinity within every routing group of G tokens.
//   logits, probs [T, E] fp32; token, gate [E, groups, C]; slot_of [T, E] (-1: not taken)
// ec_select gives each (group, expert) one block, a thread per token (kPerThread tokens per thread
// where G is over 1024: token k * blockDim + thread). Non-negative floats order like their bit
// patterns, so the C-th largest affinity v is found bit by bit on the 32-bit patterns: 32 rounds of
// "do at least C keys reach v | bit?", each one __syncthreads_count per key a thread holds (one
// barrier with a vote count, bar.red.popc). The choice is then every key above v and, of the keys
// equal to v, the lowest token indices, up to C: exactly the CPU reference's order (affinity
// descending, ties to the lower token). Each chosen token's slot is the count of chosen tokens
// before it in token order: two ballots count within a warp, a barrier and a warp sum over the
// block's per-warp counts add the warps before it. Until the second session of 2026-11-29 one warp
// held a group's G affinities for one expert (32 per lane at G 1024) and ran the same search as a
// chain of 32 rounds of 32 compares and a warp sum, then 32 steps to place the tokens: about 5000
// dependent instructions on one warp, which the H200 timed at 25 to 34 us for any number of tokens
// up to 8192 (the profile of 2026-11-28 16:12, `ec_route` with its softmax): latency, not work. A
// block of G threads runs the same search in 32 barrier rounds of a compare and a vote each (not
// yet timed on a GPU); over many groups the work per key is about the same as the warp's. Before
// 2026-11-28 a bitonic sort of each (group, expert) column in shared memory ran at 0.31 ms for
// 65536 tokens and 64 experts on an H100.
// A thread reads its token's affinity from probs, stride E (one 4-byte value per 32-byte sector),
// and writes slot_of at the same place; probs was written by the softmax just before (17 MB at
// 65536 tokens and 64 experts), so those reads come from L2. Blocks are numbered expert first, so
// that the blocks of one group's neighbouring experts, which share those sectors, run together.
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

constexpr int kSelectMaxThreads = 1024;  // a block per (group, expert): a thread per token up to G 1024
constexpr int kThreads = 256;

// grid = groups x E blocks, expert first; block = min(G, 1024) threads rounded up to whole warps,
// kPerThread = ceil(G / block) tokens per thread.
template <int kPerThread>
__global__ void __launch_bounds__(kSelectMaxThreads)
    ec_select_kernel(const float* __restrict__ probs, int* __restrict__ token, float* __restrict__ gate,
                     int* __restrict__ slot_of, int experts, int group_tokens, int capacity) {
  __shared__ int warp_over[kSelectMaxThreads / kWarpSize];  // per warp: its keys above v
  __shared__ int warp_tie[kSelectMaxThreads / kWarpSize];   // and equal to v
  const int e = static_cast<int>(blockIdx.x % experts);
  const int g = static_cast<int>(blockIdx.x / experts);
  const int groups = static_cast<int>(gridDim.x / experts);
  const int threads = static_cast<int>(blockDim.x);
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int first = g * group_tokens;  // T E < 2^31 (check_expert_choice_dims): int offsets below
  const float* column = probs + static_cast<std::int64_t>(first) * experts + e;
  int* taken_slot = slot_of + static_cast<std::int64_t>(first) * experts + e;
  unsigned key[kPerThread];  // 0 past the group: never counted, since every candidate below is >= 1
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int i = k * threads + static_cast<int>(threadIdx.x);
    key[k] = i < group_tokens ? __float_as_uint(column[i * experts]) : 0u;
  }
  // v: the largest pattern that at least C keys reach, i.e. the C-th largest key. Every thread
  // gets the same counts, so the loop and v are the same across the block.
  unsigned v = 0;
  for (int bit = 31; bit >= 0; --bit) {
    const unsigned candidate = v | (1u << bit);
    int reach = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) reach += __syncthreads_count(key[k] >= candidate);
    if (reach >= capacity) v = candidate;
  }
  int above = 0;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) above += __syncthreads_count(key[k] > v);
  const int ties_taken = capacity - above;  // >= 1: how many keys equal to v are chosen
  const int slot_base = (e * groups + g) * capacity;
  const unsigned below = lanes_below();
  const int warps = threads / kWarpSize;
  int over_before = 0;  // keys above v in earlier passes of the block (tokens k * threads on)
  int ties_before = 0;  // keys equal to v in earlier passes
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int i = k * threads + static_cast<int>(threadIdx.x);
    const bool inside = i < group_tokens;
    const bool over = inside && key[k] > v;
    const bool tie = inside && key[k] == v;
    const unsigned over_votes = __ballot_sync(kFullMask, over);
    const unsigned tie_votes = __ballot_sync(kFullMask, tie);
    if (lane == 0) {
      warp_over[warp] = __popc(over_votes);
      warp_tie[warp] = __popc(tie_votes);
    }
    __syncthreads();
    // Lane l of every warp reads warp l's counts: the sum over the lanes below this warp's index
    // counts the warps before it, the sum over all lanes the pass.
    const int lane_over = lane < warps ? warp_over[lane] : 0;
    const int lane_tie = lane < warps ? warp_tie[lane] : 0;
    const int over_rank = over_before + warp_sum(lane < warp ? lane_over : 0) + __popc(over_votes & below);
    const int tie_rank = ties_before + warp_sum(lane < warp ? lane_tie : 0) + __popc(tie_votes & below);
    over_before += warp_sum(lane_over);
    ties_before += warp_sum(lane_tie);
    if (k + 1 < kPerThread) __syncthreads();  // every warp has read the counts before the next pass writes them
    if (!inside) continue;
    if (over || (tie && tie_rank < ties_taken)) {
      const int slot = slot_base + over_rank + min(tie_rank, ties_taken);
      token[slot] = first + i;
      gate[slot] = __uint_as_float(key[k]);
      taken_slot[i * experts] = slot;
    } else {
      taken_slot[i * experts] = -1;
    }
  }
}

// The instance whose block holds a group: the smallest power of two kPerThread with 1024
// kPerThread >= G.
template <int kPerThread = 1>
cudaError_t launch_select(const float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
                          cudaStream_t stream) {
  if constexpr (kPerThread < kMaxGroupTokens / kSelectMaxThreads) {
    if (d.group_tokens > static_cast<std::int64_t>(kPerThread) * kSelectMaxThreads) {
      return launch_select<2 * kPerThread>(probs, token, gate, slot_of, d, stream);
    }
  }
  const std::int64_t rounded = (d.group_tokens + kWarpSize - 1) / kWarpSize * kWarpSize;
  const int threads = static_cast<int>(std::min<std::int64_t>(kSelectMaxThreads, rounded));
  const auto blocks = static_cast<unsigned>(d.groups() * d.experts);  // <= T E < 2^31
  return launch_kernel(ec_select_kernel<kPerThread>, dim3(blocks), threads, 0, stream, probs, token, gate, slot_of,
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
