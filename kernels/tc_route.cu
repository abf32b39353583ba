// Token-choice routing (op `tc_route`): router softmax, each token's top-k experts, capacity in
// token order, and each kept pick's row in the expert-major permuted buffer.
//   probs [T, E] fp32; expert, gate, row [T, k]; counts [E]; offsets [E + 1]; row_assignment [rows]
// Four deterministic steps, no atomics:
//   1. top-k: one warp per token; k rounds of a warp arg-max over the unpicked experts (affinity
//      descending, ties to the lower expert: a total order, so the butterfly converges on one pick).
//   2. positions: one block per expert scans all T k picks in order (each thread a contiguous run,
//      a block exclusive scan of the runs' counts): a pick's place among its expert's picks is
//      its position in token order, which decides capacity. T k E reads: 8M at T = 64K, k = 2,
//      E = 64, a few microseconds on an H100, far below the expert GEMMs.
//   3. offsets: one block scans the kept counts (min(count, capacity), or count when dropless), or
//      the capacity of every expert when padded.
//   4. rows: row = offsets[expert] + position for kept picks, and its inverse row_assignment (-1
//      on padding rows).
// CPU reference: ref/token_choice.hpp. Test: ctest -R "token choice" (tests/kernels/
// token_choice_gpu_test.cpp; skipped without a GPU). Without a GPU: tests/emulation/
// token_choice_emulated_test.cpp runs this code under a CPU emulation of CUDA (its logic, not the numerics).
#include <algorithm>
#include <string>

#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "router_softmax.cuh"
#include "tc_route.cuh"

namespace ecsim {
namespace {

constexpr int kWarpThreads = 256;  // top-k and gate backward: 8 tokens per block, a warp each
constexpr int kScanThreads = 1024;
constexpr int kThreads = 256;

// Affinity descending, then expert ascending: the reference's order.
__device__ inline bool ranks_before(float v, int e, float other_v, int other_e) {
  return v > other_v || (v == other_v && e < other_e);
}

__global__ void __launch_bounds__(kWarpThreads)
    tc_topk_kernel(const float* __restrict__ probs, int* __restrict__ expert, float* __restrict__ gate,
                   int tokens, int experts, int top_k, bool normalize) {
  const int lane = threadIdx.x % kWarpSize;
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * (kWarpThreads / kWarpSize) + threadIdx.x / kWarpSize;
  if (t >= tokens) return;  // whole warps leave together
  const float* p = probs + t * experts;
  // In registers: bit m of `taken` marks this lane's expert lane + 32 m as picked (E <= 1024 =
  // 32 x 32, kMaxTokenChoiceExperts); lane j < k keeps the j-th pick.
  static_assert(kMaxTokenChoiceExperts <= kWarpSize * 32 && kMaxTopK <= kWarpSize, "a lane's picks fit one mask");
  unsigned taken = 0;
  float my_p = 0.0f;
  int my_e = 0;
  for (int j = 0; j < top_k; ++j) {
    float best = -1.0f;  // affinities are >= 0
    int best_e = experts;
    for (int e = lane, m = 0; e < experts; e += kWarpSize, ++m) {
      const float v = p[e];
      if (!((taken >> m) & 1u) && ranks_before(v, e, best, best_e)) {
        best = v;
        best_e = e;
      }
    }
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      const float other = __shfl_xor_sync(kFullMask, best, offset);
      const int other_e = __shfl_xor_sync(kFullMask, best_e, offset);
      if (ranks_before(other, other_e, best, best_e)) {
        best = other;
        best_e = other_e;
      }
    }
    if (best_e < experts && best_e % kWarpSize == lane) taken |= 1u << (best_e / kWarpSize);
    if (lane == j) {
      my_p = best;
      my_e = best_e;
    }
  }
  float sum = 0;  // the picks in order, as the reference adds them
  for (int j = 0; j < top_k; ++j) sum += __shfl_sync(kFullMask, my_p, j);
  if (lane < top_k) {
    expert[t * top_k + lane] = my_e;
    gate[t * top_k + lane] = normalize ? my_p / sum : my_p;
  }
}

// grid = E blocks. row[a] <- the pick's position among expert e's picks in token order, or -1
// when the capacity drops it; counts[e] <- all picks of e.
__global__ void __launch_bounds__(kScanThreads)
    tc_position_kernel(const int* __restrict__ expert, int* __restrict__ row, int* __restrict__ counts,
                       int assignments, int capacity) {
  const int e = blockIdx.x;
  const int run = (assignments + kScanThreads - 1) / kScanThreads;
  const int begin = min(assignments, static_cast<int>(threadIdx.x) * run);
  const int end = min(assignments, begin + run);
  int count = 0;
  for (int a = begin; a < end; ++a) count += expert[a] == e;
  int total = 0;
  int place = block_exclusive_scan<kScanThreads>(count, total);
  for (int a = begin; a < end; ++a) {
    if (expert[a] != e) continue;
    row[a] = capacity < 0 || place < capacity ? place : -1;
    ++place;
  }
  if (threadIdx.x == 0) counts[e] = total;
}

// One block: offsets[e] = rows of experts before e (kept rows, or the capacity each when padded);
// offsets[E] = all of them.
__global__ void __launch_bounds__(kScanThreads)
    tc_offsets_kernel(const int* __restrict__ counts, int* __restrict__ offsets, int experts, int capacity,
                      bool padded) {
  const int e = threadIdx.x;
  int rows = 0;
  if (e < experts) rows = padded ? capacity : (capacity < 0 ? counts[e] : min(counts[e], capacity));
  int total = 0;
  const int before = block_exclusive_scan<kScanThreads>(rows, total);
  if (e < experts) offsets[e] = before;
  if (e == 0) offsets[experts] = total;
}

__global__ void __launch_bounds__(kThreads)
    tc_rows_kernel(const int* __restrict__ expert, const int* __restrict__ offsets, int* __restrict__ row,
                   int* __restrict__ row_assignment, int assignments) {
  const int stride = static_cast<int>(gridDim.x) * kThreads;
  for (int a = static_cast<int>(blockIdx.x) * kThreads + threadIdx.x; a < assignments; a += stride) {
    const int position = row[a];
    if (position < 0) continue;
    const int r = offsets[expert[a]] + position;
    row[a] = r;
    row_assignment[r] = a;
  }
}

// One warp per token; lane l writes dprobs[t, e] for e = l, l + 32, ...
__global__ void __launch_bounds__(kWarpThreads)
    tc_gate_bwd_kernel(const float* __restrict__ probs, const float* __restrict__ dgate,
                       const int* __restrict__ expert, const float* __restrict__ gate, float* __restrict__ dprobs,
                       int tokens, int experts, int top_k, bool normalize) {
  const int lane = threadIdx.x % kWarpSize;
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * (kWarpThreads / kWarpSize) + threadIdx.x / kWarpSize;
  if (t >= tokens) return;
  const std::int64_t a0 = t * top_k;
  // g_j = p_j / S with S the sum of the picked p: dp_j = (dg_j - sum_i dg_i g_i) / S.
  float picked = 0, weighted = 0;
  if (normalize) {
    for (int j = 0; j < top_k; ++j) {
      picked += probs[t * experts + expert[a0 + j]];
      weighted += dgate[a0 + j] * gate[a0 + j];
    }
  }
  for (int e = lane; e < experts; e += kWarpSize) {
    float v = 0;
    for (int j = 0; j < top_k; ++j) {
      if (expert[a0 + j] == e) v = normalize ? (dgate[a0 + j] - weighted) / picked : dgate[a0 + j];
    }
    dprobs[t * experts + e] = v;
  }
}

unsigned warp_blocks(std::int64_t tokens) {
  constexpr std::int64_t kPerBlock = kWarpThreads / kWarpSize;
  return static_cast<unsigned>((tokens + kPerBlock - 1) / kPerBlock);
}

}  // namespace

std::int64_t TokenChoiceDims::max_rows() const {
  if (padded) return experts * capacity;
  return dropless() ? assignments() : std::min(assignments(), experts * capacity);
}

void check_token_choice_dims(const TokenChoiceDims& d, const char* op) {
  const std::string name(op);
  require_positive(d.tokens, op, "tokens");
  require_positive(d.experts, op, "experts");
  require(d.experts <= kMaxTokenChoiceExperts, name + ": experts " + std::to_string(d.experts) + " exceeds the " +
                                                   std::to_string(kMaxTokenChoiceExperts) +
                                                   " the offsets scan holds in one block");
  require(d.top_k >= 1 && d.top_k <= std::min(d.experts, kMaxTopK),
          name + ": top_k " + std::to_string(d.top_k) + " outside [1, min(experts, " + std::to_string(kMaxTopK) +
              ")]");
  require(d.capacity != 0, name + ": capacity 0 would drop every pick (a negative capacity means dropless)");
  require(!d.padded || !d.dropless(), name + ": padded rows need a capacity (dropless rows are packed)");
  require_int32(d.max_rows(), op, "rows");
  require_int32(d.tokens * d.experts, op, "tokens * experts");
  require_int32(d.assignments(), op, "tokens * top_k");
}

void tc_route(const float* logits, float* probs, const TokenChoiceRouting& r, const TokenChoiceDims& d,
              cudaStream_t stream) {
  check_token_choice_dims(d, "tc_route");
  router_softmax_fwd(logits, probs, d.tokens, d.experts, stream);
  tc_select(probs, r, d, stream);
}

void tc_select(const float* probs, const TokenChoiceRouting& r, const TokenChoiceDims& d, cudaStream_t stream) {
  check_token_choice_dims(d, "tc_select");
  require_pointers("tc_select", {{"probs", probs},
                                 {"expert", r.expert},
                                 {"gate", r.gate},
                                 {"row", r.row},
                                 {"counts", r.counts},
                                 {"offsets", r.offsets},
                                 {"row_assignment", r.row_assignment}});
  const int tokens = static_cast<int>(d.tokens), experts = static_cast<int>(d.experts);
  const int top_k = static_cast<int>(d.top_k), assignments = static_cast<int>(d.assignments());
  // Clamped to T k (a larger capacity drops nothing) so that it fits an int, except when padded:
  // there offsets are e C with C itself (E C <= INT32_MAX is checked).
  const int capacity = d.dropless() ? -1
                       : d.padded   ? static_cast<int>(d.capacity)
                                    : static_cast<int>(std::min<std::int64_t>(d.capacity, d.assignments()));
  CUDA_CHECK(launch_kernel(tc_topk_kernel, warp_blocks(d.tokens), kWarpThreads, 0, stream, probs, r.expert, r.gate,
                           tokens, experts, top_k, d.normalize_gates));
  CUDA_CHECK(launch_kernel(tc_position_kernel, static_cast<unsigned>(experts), kScanThreads, 0, stream, r.expert, r.row,
                           r.counts, assignments, capacity));
  CUDA_CHECK(launch_kernel(tc_offsets_kernel, 1, kScanThreads, 0, stream, r.counts, r.offsets, experts, capacity,
                           d.padded));
  // Rows no pick fills (padding) keep -1: bytes 0xFF.
  if (d.padded) {
    CUDA_CHECK(cudaMemsetAsync(r.row_assignment, 0xFF, static_cast<std::size_t>(d.max_rows()) * sizeof(int), stream));
  }
  CUDA_CHECK(launch_kernel(tc_rows_kernel, elementwise_blocks(d.assignments(), kThreads), kThreads, 0, stream, r.expert,
                           r.offsets, r.row, r.row_assignment, assignments));
}

void tc_gate_bwd(const float* probs, const float* dgate, const TokenChoiceRouting& r, float* dprobs,
                 const TokenChoiceDims& d, cudaStream_t stream) {
  check_token_choice_dims(d, "tc_gate_bwd");
  require_pointers("tc_gate_bwd",
                   {{"probs", probs}, {"dgate", dgate}, {"expert", r.expert}, {"gate", r.gate}, {"dprobs", dprobs}});
  CUDA_CHECK(launch_kernel(tc_gate_bwd_kernel, warp_blocks(d.tokens), kWarpThreads, 0, stream, probs, dgate, r.expert,
                           r.gate, dprobs, static_cast<int>(d.tokens), static_cast<int>(d.experts),
                           static_cast<int>(d.top_k), d.normalize_gates));
}

}  // namespace ecsim
