// Expert-choice routing (EC-DiT; op `ec_route`): router softmax, then each expert takes the C
// tokens of highest affinity within every routing group of G tokens.
//   logits, probs [T, E] fp32; token, gate [E, groups, C]; slot_of [T, E] (-1: not taken)
// ec_select gives a block a routing group and a slice of kTeams neighbouring experts (8, or 4 for
// groups over 1024 tokens), one team of 128 threads (4 warps) per expert; a team thread holds
// kPerThread of the group's affinities for its expert (token k * 128 + thread), 8 at G 1024.
//   1. Stage: the block reads its slice of probs [G, kTeams] (32 bytes a token at 8 experts: whole
//      sectors, 4 per warp instruction) into shared memory expert-major, and each team thread takes
//      its keys from there.
//   2. Search: non-negative floats order like their bit patterns, so the C-th largest affinity v is
//      found bit by bit on the 32-bit patterns: 32 rounds of "do at least C keys reach v | bit?",
//      each a count over the registers, a warp sum, one block barrier and a sum over the team's 4
//      warps (per-warp counts double-buffered by round, so one barrier a round).
//   3. Place: the choice is every key above v and, of the keys equal to v, the lowest token
//      indices, up to C: exactly the CPU reference's order (affinity descending, ties to the lower
//      token). A chosen token's slot is the count of chosen tokens before it in token order: two
//      ballots count within a warp, the team's per-warp counts add the warps before it, one barrier
//      per 128 tokens.
//   4. slot_of goes back through shared memory, so that it is written token-major, whole sectors.
// No atomics; every count runs in a fixed order. History (H200 profile of 2026-11-28 16:12, which
// times `ec_route` with its softmax): one warp per (group, expert) ran the same search over 32 keys
// a lane, a chain of about 5000 dependent instructions, 25 to 34 us for any token count up to 8192
// (latency, not work), 125 us at 65536 tokens and 64 experts, where each of its 4-byte reads and
// writes of probs and slot_of, stride E, took a sector of its own; before 2026-11-28 a bitonic sort
// per column in shared memory, 0.31 ms there on an H100. This layout (the second session of
// 2026-11-29; not yet timed on a GPU) shortens the chain to 32 rounds of a few instructions and a
// barrier across many warps, and moves probs and slot_of in whole sectors.
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

constexpr int kTeamThreads = 128;                     // the threads that search one expert's column
constexpr int kTeamWarps = kTeamThreads / kWarpSize;  // 4
constexpr int kMaxTeams = 8;                          // experts per block at G <= 1024
constexpr int kThreads = 256;                         // the gate backward's blocks

// A team's tokens, and a staging row's length in 4-byte words: a warp's 32 / kTeams tokens of
// kTeams experts (staged and written back expert-fastest) then fall on 32 distinct banks.
template <int kPerThread>
constexpr int kSpan = kPerThread * kTeamThreads;
template <int kTeams, int kPerThread>
constexpr int kStagingStride = kSpan<kPerThread> + kWarpSize / kTeams;
template <int kTeams, int kPerThread>
constexpr int kStagingBytes = kTeams * kStagingStride<kTeams, kPerThread> * 4;

// grid = groups x ceil(E / kTeams) blocks, the expert slice fastest; block = kTeams teams of 128.
// Dynamic shared memory: the staging, [kTeams][kStagingStride] 4-byte words (keys, then slots).
// ptxas (CUDA 13.0, sm_90): 32 registers up to 4 keys a thread, 43 at 8 (G 1024: one block of 1024
// threads an SM; held to 32 for two, it spilled 68 bytes), 52 and 62 at 16 and 32; no spills.
template <int kTeams, int kPerThread>
__global__ void __launch_bounds__(kTeams * kTeamThreads)
    ec_select_kernel(const float* __restrict__ probs, int* __restrict__ token, float* __restrict__ gate,
                     int* __restrict__ slot_of, int experts, int group_tokens, int capacity) {
  constexpr int kBlockThreads = kTeams * kTeamThreads;
  constexpr int kWarps = kBlockThreads / kWarpSize;
  constexpr int kWords = kSpan<kPerThread> * kTeams;  // staged (token, expert) pairs
  constexpr int kStride = kStagingStride<kTeams, kPerThread>;
  __shared__ int warp_count[2][kWarps];  // keys reaching the round's candidate, by round parity
  __shared__ int warp_over[2][kWarps];   // keys above v in a pass of 128 tokens, by pass parity
  __shared__ int warp_tie[2][kWarps];    // and equal to v
  unsigned* staging = reinterpret_cast<unsigned*>(dynamic_shared_memory());
  const int thread = static_cast<int>(threadIdx.x);
  const int lane = thread % kWarpSize;
  const int warp = thread / kWarpSize;
  const int team = thread / kTeamThreads;
  const int member = thread % kTeamThreads;
  const int team_warp = team * kTeamWarps;  // the team's first warp
  const int slices = (experts + kTeams - 1) / kTeams;
  const int g = static_cast<int>(blockIdx.x) / slices;
  const int e0 = static_cast<int>(blockIdx.x) % slices * kTeams;
  const int groups = static_cast<int>(gridDim.x) / slices;
  const int first = g * group_tokens;  // T E < 2^31 (check_expert_choice_dims): int offsets below
  const float* rows = probs + static_cast<std::int64_t>(first) * experts + e0;

  // 1. Stage (token t, expert e0 + j) at staging[j][t]; 0 past the group or the experts: never
  // counted, since every candidate below is >= 1.
  for (int w = thread; w < kWords; w += kBlockThreads) {
    const int t = w / kTeams, j = w % kTeams;
    staging[j * kStride + t] = t < group_tokens && e0 + j < experts ? __float_as_uint(rows[t * experts + j]) : 0u;
  }
  __syncthreads();
  unsigned key[kPerThread];
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) key[k] = staging[team * kStride + k * kTeamThreads + member];

  // The sum over the team of one int per warp, read by every thread of the team.
  auto team_sum = [&](const int* per_warp) { return warp_sum(lane < kTeamWarps ? per_warp[team_warp + lane] : 0); };

  // 2. v: the largest pattern that at least C of the team's keys reach, i.e. the C-th largest key.
  // Each team's count is the same in all its threads, so v is too.
  unsigned v = 0;
#pragma unroll 1  // unrolled by two, ptxas spilled 20 bytes at kPerThread 16 (CUDA 13.0)
  for (int bit = 31; bit >= 0; --bit) {
    const unsigned candidate = v | (1u << bit);
    int reach = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) reach += key[k] >= candidate ? 1 : 0;
    reach = warp_sum(reach);
    int* counts = warp_count[bit & 1];
    if (lane == 0) counts[warp] = reach;
    __syncthreads();  // a round's counts are read before the barrier of the next, written after it
    if (team_sum(counts) >= capacity) v = candidate;
  }
  int above = 0;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) above += key[k] > v ? 1 : 0;
  above = warp_sum(above);
  if (lane == 0) warp_count[1][warp] = above;  // bit 0's round read [0]; [1] was read before its barrier
  __syncthreads();
  const int ties_taken = capacity - team_sum(warp_count[1]);  // >= 1: how many keys equal to v are chosen

  // 3. Place the chosen tokens, 128 at a time; each thread's slot (or -1) to the staging, whose
  // keys every thread read before the first barrier of the search.
  const int e = e0 + team;
  const bool real_expert = e < experts;  // a team past the last expert places nothing
  const int slot_base = (e * groups + g) * capacity;
  const unsigned below = lanes_below();
  const int warp_in_team = warp % kTeamWarps;
  int over_before = 0;  // the team's keys above v in earlier passes
  int ties_before = 0;  // and equal to v
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int i = k * kTeamThreads + member;
    const bool inside = i < group_tokens;
    const bool over = inside && key[k] > v;
    const bool tie = inside && key[k] == v;
    const unsigned over_votes = __ballot_sync(kFullMask, over);
    const unsigned tie_votes = __ballot_sync(kFullMask, tie);
    int* overs = warp_over[k & 1];
    int* ties = warp_tie[k & 1];
    if (lane == 0) {
      overs[warp] = __popc(over_votes);
      ties[warp] = __popc(tie_votes);
    }
    __syncthreads();  // a pass's counts are read before the barrier of the next, written after it
    const int lane_over = lane < kTeamWarps ? overs[team_warp + lane] : 0;  // lane l: the team's warp l
    const int lane_tie = lane < kTeamWarps ? ties[team_warp + lane] : 0;
    const int over_rank = over_before + warp_sum(lane < warp_in_team ? lane_over : 0) + __popc(over_votes & below);
    const int tie_rank = ties_before + warp_sum(lane < warp_in_team ? lane_tie : 0) + __popc(tie_votes & below);
    over_before += warp_sum(lane_over);
    ties_before += warp_sum(lane_tie);
    int slot = -1;
    if (real_expert && (over || (tie && tie_rank < ties_taken))) {
      slot = slot_base + over_rank + min(tie_rank, ties_taken);
      token[slot] = first + i;
      gate[slot] = __uint_as_float(key[k]);
    }
    staging[team * kStride + i] = static_cast<unsigned>(slot);
  }
  __syncthreads();

  // 4. slot_of [G, kTeams] token-major, as it was staged.
  int* out = slot_of + static_cast<std::int64_t>(first) * experts + e0;
  for (int w = thread; w < kWords; w += kBlockThreads) {
    const int t = w / kTeams, j = w % kTeams;
    if (t < group_tokens && e0 + j < experts) out[t * experts + j] = static_cast<int>(staging[j * kStride + t]);
  }
}

// The instance for a group: kTeams 8 up to G 1024, else 4; kPerThread the smallest power of two
// with 128 kPerThread >= G.
template <int kTeams, int kPerThread>
cudaError_t launch_select_instance(const float* probs, int* token, float* gate, int* slot_of,
                                   const ExpertChoiceDims& d, cudaStream_t stream) {
  constexpr int kBytes = kStagingBytes<kTeams, kPerThread>;
  constexpr int kDefaultShared = 48 * 1024;  // more needs the kernel's opt-in
  if constexpr (kBytes > kDefaultShared) {
    const cudaError_t allowed = allow_dynamic_shared(ec_select_kernel<kTeams, kPerThread>, kBytes);
    if (allowed != cudaSuccess) return allowed;
  }
  const std::int64_t slices = (d.experts + kTeams - 1) / kTeams;
  const auto blocks = static_cast<unsigned>(d.groups() * slices);  // <= T E < 2^31
  return launch_kernel(ec_select_kernel<kTeams, kPerThread>, dim3(blocks), kTeams * kTeamThreads, kBytes, stream,
                       probs, token, gate, slot_of, static_cast<int>(d.experts), static_cast<int>(d.group_tokens),
                       static_cast<int>(d.capacity));
}

template <int kPerThread = 1>
cudaError_t launch_select(const float* probs, int* token, float* gate, int* slot_of, const ExpertChoiceDims& d,
                          cudaStream_t stream) {
  static_assert(kMaxGroupTokens <= 32 * kTeamThreads, "kPerThread stops at 32");
  if constexpr (kPerThread < 32) {
    if (d.group_tokens > static_cast<std::int64_t>(kPerThread) * kTeamThreads) {
      return launch_select<2 * kPerThread>(probs, token, gate, slot_of, d, stream);
    }
  }
  constexpr int kTeams = kPerThread * kTeamThreads <= 1024 ? kMaxTeams : kMaxTeams / 2;
  return launch_select_instance<kTeams, kPerThread>(probs, token, gate, slot_of, d, stream);
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
