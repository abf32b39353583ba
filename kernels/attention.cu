// Fused (flash-style) scaled dot-product attention, forward and backward (ops `attention_fwd`,
// `attention_bwd`): grouped-query, self or cross (Sq != Skv), optionally causal (bottom-right
// aligned: query i sees keys j <= i + Skv - Sq), head dim 64 or 128, scale 1/sqrt(D).
//   q, out, dout, dq  [B, Sq, H, D]    bf16
//   k, v, dk, dv      [B, Skv, KVH, D] bf16, query head h reads KV head h / (H / KVH)
//   lse, delta        [B, H, Sq]       fp32
// q and dq may have rows wider than H D, and k, v, dk and dv rows wider than KVH D
// (AttentionDims::q_row_stride, kv_row_stride): the slices of a fused projection's output, read and
// written in place without a copy.
// bf16 storage, fp32 accumulation; the scores never leave the chip. Tensor cores through
// mma.sync.m16n8k16 (bf16 in, fp32 accumulate) with operands loaded by ldmatrix, so the
// fragment layouts are the PTX ISA's documented ones and the softmax works on the accumulators
// in registers.
//
// Work split. A block is 4 warps; each warp owns 16 rows of a 64-row tile that stays in shared
// memory, and the block streams the other side through shared memory in column tiles, two
// stages deep (cp.async), rows padded by 16 bytes so that ldmatrix is free of bank conflicts.
//   forward   block = (64 queries, head, sample); streams 64-key tiles of K and V; online softmax
//             (running max and sum per row, accumulators rescaled when the max grows). Or, by
//             AttentionForwardRows::k128 (the default at D = 128 over 2048 queries or more), 128
//             queries with 32 rows per warp (two row tiles that share every K and V fragment),
//             32-key tiles at D = 128.
//   backward  delta = rowsum(dout * out), one warp per row; then two kernels, each summing in
//             a fixed order so that the result is bitwise reproducible (no atomics):
//             dk/dv  block = (64 keys, KV head, sample); streams the query tiles of every query
//                    head of the group (32 queries for D = 128, 64 for D = 64), recomputing
//                    P^T = exp(K Q^T scale - lse) and dS^T = P^T (V dO^T - delta), and keeps
//                    dV += P^T dO and dK += dS^T Q in registers;
//             dq     block = (64 queries, head, sample); streams key tiles (32 or 64) and
//                    recomputes P and dS the same way for dQ += dS K.
//            The separate dq pass costs two extra tile products (S and dP again) but needs no
//            fp32 atomics into a dQ accumulator, whose order would vary between runs. For head
//            dim 64 and at most 256 keys (all of EC-DiT's attention) attention_backward_fused.cu
//            computes all three in one pass per (sample, KV head); the launcher chooses
//            (AttentionBackwardKernels in attention.cuh).
// Shared memory per block: forward 45 KiB (D 64) / 85 KiB (D 128), 128 queries 54 / 68 KiB; dk/dv
// and dq 55 / 69 KiB.
// At EC-DiT's lengths (128-256 tokens) a (sample, head) is a handful of tiles, so the grid is
// B * H * Sq/64 blocks with few column steps each; rows past Sq or Skv are zero-filled in
// shared memory and masked, so any length >= 1 works.
// Tile helpers: attention_tiles.cuh; the PTX instructions: mma_sm80.cuh; launches: launch.cuh.
// CPU reference: ref/attention.hpp. Test: ctest -R attention (tests/kernels/attention_gpu_test.cpp,
// or build/bin/ecsim_kernel_gpu_tests -tc='*attention*'; skipped without a GPU). Without a GPU,
// tests/emulation/attention_emulated_test.cpp runs this file's code on the CPU under an emulation of
// the CUDA execution model with race and bounds checks (its logic, not the hardware's numerics).
// Benchmark: build/bin/ecsim-bench-attention (bench/attention_bench.cpp).
#include <cmath>
#include <cstdint>
#include <string>

#include "attention.cuh"
#include "attention_backward_fused.cuh"
#include "attention_tiles.cuh"
#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "launch.cuh"
#include "launch_check.hpp"

namespace ecsim {
namespace {

using namespace attention_tiles;

constexpr int kThreads = kTileThreads;         // 4 warps
constexpr int kRowTile = 4 * kWarpRows;        // 64 rows per block (queries, or keys in dk/dv)
constexpr int kDeltaThreads = 256;             // 8 rows of delta per block
constexpr float kLn2 = 0.6931471805599453f;

// Columns per streamed tile in the backward: the kernels hold two [16, columns] fp32 tiles
// (scores and dP) beside the [16, D] accumulators, so D = 128 takes half as many columns to stay
// inside the register file.
template <int kD>
constexpr int kBackwardColumns = kD == 64 ? 64 : 32;

// Queries per forward block: 4 warps of kM row tiles of 16 each.
template <int kM>
constexpr int kForwardRows = 4 * kM * kWarpRows;

// Keys per streamed tile in the forward: 64, except for two row tiles per warp at D = 128, whose
// [32, 128] output accumulators leave room for [32, 32] scores only (64 keys spill 104 bytes).
template <int kD, int kM>
constexpr int kForwardKeys = kD == 128 && kM == 2 ? 32 : 64;

template <int kD, int kM>
constexpr int forward_shared_bytes() {
  constexpr int kTileRows = kForwardRows<kM> + 2 * 2 * kForwardKeys<kD, kM>;  // Q; K and V, two stages each
  return kTileRows * kRowStride<kD> * 2;
}

template <int kD>
constexpr int backward_shared_bytes() {
  // Resident Q and dO (dq) or K and V (dk/dv); the two streamed tiles, two stages each; and for
  // dk/dv the streamed rows' lse and delta (two stages). dq sizes its buffer the same way.
  constexpr int kTileRows = 2 * kRowTile + 2 * 2 * kBackwardColumns<kD>;
  return kTileRows * kRowStride<kD> * 2 + 2 * 2 * kBackwardColumns<kD> * static_cast<int>(sizeof(float));
}

// One block per (kForwardRows<kM> queries, head, sample): grid (ceil(Sq / (64 kM)), H, B). Each
// warp owns kM row tiles of 16 queries, so every K and V fragment it loads serves kM mma's.
template <int kD, int kM>
__global__ void __launch_bounds__(kThreads)
    flash_attention_forward_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                   const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ out,
                                   float* __restrict__ lse, int heads, int kv_heads, int q_len, int kv_len,
                                   std::int64_t q_stride, std::int64_t kv_stride, bool causal, float scale_log2) {
  constexpr int kS = kRowStride<kD>;
  constexpr int kRows = kForwardRows<kM>;
  constexpr int kStrip = kM * kWarpRows;  // a warp's queries
  constexpr int kKeys = kForwardKeys<kD, kM>;
  unsigned char* shared = dynamic_shared_memory();
  __nv_bfloat16* s_q = reinterpret_cast<__nv_bfloat16*>(shared);  // [kRows, kS]
  __nv_bfloat16* s_k = s_q + kRows * kS;                          // [2][kKeys, kS]
  __nv_bfloat16* s_v = s_k + 2 * kKeys * kS;               // [2][kKeys, kS]

  const int b = static_cast<int>(blockIdx.z);
  const int h = static_cast<int>(blockIdx.y);
  const int q0 = static_cast<int>(blockIdx.x) * kRows;
  const int kvh = h / (heads / kv_heads);
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t out_stride = static_cast<std::int64_t>(heads) * kD;
  const __nv_bfloat16* q_head = q + static_cast<std::int64_t>(b) * q_len * q_stride + h * kD;      // [Sq, D] rows
  const __nv_bfloat16* k_head = k + static_cast<std::int64_t>(b) * kv_len * kv_stride + kvh * kD;  // [Skv, D]
  const __nv_bfloat16* v_head = v + static_cast<std::int64_t>(b) * kv_len * kv_stride + kvh * kD;  // [Skv, D]
  // Causal: the tile's last query sees keys up to its index + Skv - Sq; later key tiles are skipped.
  const int kv_end = causal ? min(kv_len, min(q0 + kRows, q_len) + kv_len - q_len) : kv_len;
  const int key_tiles = (kv_end + kKeys - 1) / kKeys;

  load_rows_async<kRows, kD>(s_q, q_head, q_stride, q0, q_len);
  load_rows_async<kKeys, kD>(s_k, k_head, kv_stride, 0, kv_len);
  load_rows_async<kKeys, kD>(s_v, v_head, kv_stride, 0, kv_len);
  commit_async_copies();

  float o[kM][kD / 8][4] = {};  // [16, D] per row tile of the warp, unnormalized
  // Per thread: rows g and g + 8 of each row tile (g = lane / 4); scores are kept in log2 units.
  float row_max[kM][2], row_sum[kM][2];  // row_sum: this thread's share; the quad's add up at the end
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    row_max[m][0] = row_max[m][1] = -INFINITY;
    row_sum[m][0] = row_sum[m][1] = 0.0f;
  }
  const int row_in_tile = warp * kStrip + lane / 4;  // + 16 m + 8 r

  for (int j = 0; j < key_tiles; ++j) {
    const int stage = j % 2;
    // The pipeline step written out, not attention_tiles::pipeline_step: through the helper ptxas
    // gives the head-dim-64 kernel 141 registers, not the 128 it was measured with (3 blocks per
    // SM, not 4; CUDA 13.0, 2026-11-28).
    if (j + 1 < key_tiles) {
      load_rows_async<kKeys, kD>(s_k + (1 - stage) * kKeys * kS, k_head, kv_stride, (j + 1) * kKeys, kv_len);
      load_rows_async<kKeys, kD>(s_v + (1 - stage) * kKeys * kS, v_head, kv_stride, (j + 1) * kKeys, kv_len);
      commit_async_copies();
      wait_async_copies<1>();
    } else {
      wait_async_copies<0>();
    }
    __syncthreads();
    const __nv_bfloat16* s_kj = s_k + stage * kKeys * kS;
    const __nv_bfloat16* s_vj = s_v + stage * kKeys * kS;

    float s[kM][kKeys / 8][4] = {};  // [16, kKeys] scores of each row tile
    warp_tiles_product_rows_rows<kM, kD, kKeys, kS>(s, s_q + warp * kStrip * kS, s_kj, lane);

    const int k0 = j * kKeys;
    // Uniform over the block: only the last tile (ragged Skv) and tiles crossing the diagonal mask.
    const bool masked_tile = k0 + kKeys > kv_len || (causal && k0 + kKeys - 1 > q0 + kv_len - q_len);
#pragma unroll
    for (int m = 0; m < kM; ++m) {
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int key = k0 + n * 8 + 2 * (lane % 4) + i % 2;
          const int query = q0 + row_in_tile + 16 * m + 8 * (i / 2);
          const bool hidden = masked_tile && (key >= kv_len || (causal && key > query + kv_len - q_len));
          s[m][n][i] = hidden ? -INFINITY : s[m][n][i] * scale_log2;
        }
      }
    }

    // Online softmax: the four lanes of a quad hold one row between them.
#pragma unroll
    for (int m = 0; m < kM; ++m) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = row_max[m][r];
#pragma unroll
        for (int n = 0; n < kKeys / 8; ++n) mx = fmaxf(mx, fmaxf(s[m][n][2 * r], s[m][n][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 2));
        // A row with every key so far masked keeps max -inf; exponents then subtract 0, so that
        // exp2(-inf - base) is 0 and not NaN.
        const float base = mx == -INFINITY ? 0.0f : mx;
        const float rescale = exp2f(row_max[m][r] - base);
        row_max[m][r] = mx;
        row_sum[m][r] *= rescale;
#pragma unroll
        for (int n = 0; n < kD / 8; ++n) {
          o[m][n][2 * r] *= rescale;
          o[m][n][2 * r + 1] *= rescale;
        }
#pragma unroll
        for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            // The sum takes the fp32 probabilities (lse stays fp32-accurate); P V rounds them to bf16.
            const float p = exp2f(s[m][n][2 * r + c] - base);
            s[m][n][2 * r + c] = p;
            row_sum[m][r] += p;
          }
        }
      }
    }
    warp_tiles_product_regs_rows<kM, kKeys, kD, kS>(o, s, s_vj, lane);
    __syncthreads();  // the next iteration's copies overwrite this stage
  }

#pragma unroll
  for (int m = 0; m < kM; ++m) {
    float inverse[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      row_sum[m][r] += __shfl_xor_sync(kFullMask, row_sum[m][r], 1);
      row_sum[m][r] += __shfl_xor_sync(kFullMask, row_sum[m][r], 2);
      const int query = q0 + row_in_tile + 16 * m + 8 * r;
      if (lane % 4 == 0 && query < q_len) {
        // An empty row (impossible for valid inputs) gets lse = +inf, so the backward's exp(s - lse) is 0.
        lse[(static_cast<std::int64_t>(b) * heads + h) * q_len + query] =
            row_sum[m][r] > 0.0f ? row_max[m][r] * kLn2 + logf(row_sum[m][r]) : INFINITY;
      }
      inverse[r] = row_sum[m][r] > 0.0f ? 1.0f / row_sum[m][r] : 0.0f;
    }
    // The warp's rows of s_q were last read before the loop's final barrier; reuse them for O.
    store_accumulator_rows<kD>(s_q + (warp * kStrip + 16 * m) * kS, o[m], inverse[0], inverse[1], lane);
  }
  __syncthreads();
  store_rows<kRows, kD>(out + (static_cast<std::int64_t>(b) * q_len * heads + h) * kD, out_stride, q0, q_len, s_q);
}

// delta[b, h, i] = sum_c dout[b, i, h, c] * out[b, i, h, c], one warp per row (b, i, h), summed in
// lane order.
__global__ void __launch_bounds__(kDeltaThreads)
    attention_backward_delta_kernel(const __nv_bfloat16* __restrict__ out, const __nv_bfloat16* __restrict__ dout,
                                    float* __restrict__ delta, int heads, int q_len, int head_dim, std::int64_t rows) {
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * (kDeltaThreads / kWarpSize) + threadIdx.x / kWarpSize;
  if (row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const __nv_bfloat16* o = out + row * head_dim;   // [D]
  const __nv_bfloat16* g = dout + row * head_dim;  // [D]
  float sum = 0.0f;
  for (int c = 2 * lane; c < head_dim; c += 2 * kWarpSize) {
    const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(o + c));
    const float2 d = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(g + c));
    sum += a.x * d.x + a.y * d.y;
  }
  sum = warp_sum(sum);
  if (lane == 0) {
    const std::int64_t h = row % heads;
    const std::int64_t i = row / heads % q_len;
    const std::int64_t b = row / heads / q_len;
    delta[(b * heads + h) * q_len + i] = sum;
  }
}

// One block per (64-key tile, KV head, sample): grid (ceil(Skv / 64), KVH, B). Streams the query
// tiles of each query head of the group in order (head-major), so dK and dV sum the group's heads
// in a fixed order.
template <int kD>
__global__ void __launch_bounds__(kThreads)
    flash_attention_backward_dkdv_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                         const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ dout,
                                         const float* __restrict__ lse, const float* __restrict__ delta,
                                         __nv_bfloat16* __restrict__ dk, __nv_bfloat16* __restrict__ dv, int heads,
                                         int kv_heads, int q_len, int kv_len, std::int64_t q_stride,
                                         std::int64_t kv_stride, bool causal, float scale_log2, float scale) {
  constexpr int kS = kRowStride<kD>;
  constexpr int kQueries = kBackwardColumns<kD>;
  // dK and dV hold 2 D / 4 fp32 accumulators per thread (64 at D = 64, 128 at D = 128): at D = 128
  // a fully unrolled score product spills, two k-steps at a time fit.
  constexpr int kUnroll = kD == 128 ? 2 : kD / 16;
  unsigned char* shared = dynamic_shared_memory();
  __nv_bfloat16* s_k = reinterpret_cast<__nv_bfloat16*>(shared);      // [64, kS]
  __nv_bfloat16* s_v = s_k + kRowTile * kS;                           // [64, kS]
  __nv_bfloat16* s_q = s_v + kRowTile * kS;                           // [2][kQueries, kS]
  __nv_bfloat16* s_do = s_q + 2 * kQueries * kS;                      // [2][kQueries, kS]
  float* s_lse = reinterpret_cast<float*>(s_do + 2 * kQueries * kS);  // [2][kQueries], times log2 e
  float* s_delta = s_lse + 2 * kQueries;                              // [2][kQueries]

  const int b = static_cast<int>(blockIdx.z);
  const int kvh = static_cast<int>(blockIdx.y);
  const int k0 = static_cast<int>(blockIdx.x) * kRowTile;
  const int group = heads / kv_heads;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t kv_offset = static_cast<std::int64_t>(b) * kv_len * kv_stride + kvh * kD;
  // Causal: the first query that sees key k0 is k0 - (Skv - Sq); earlier query tiles are skipped.
  // k0 < Skv makes that query < Sq, so every block has at least one query tile.
  const int first_q_tile = causal ? max(0, k0 - (kv_len - q_len)) / kQueries : 0;
  const int q_tiles = (q_len + kQueries - 1) / kQueries - first_q_tile;
  const int steps = group * q_tiles;

  // Step t covers query head kvh * group + t / q_tiles, query tile first_q_tile + t % q_tiles.
  auto load_step = [&](int t, int stage) {
    load_query_step<kQueries, kD, kThreads>(s_q + stage * kQueries * kS, s_do + stage * kQueries * kS,
                                            s_lse + stage * kQueries, s_delta + stage * kQueries, q, dout, lse, delta,
                                            b, kvh * group + t / q_tiles, heads, q_len, q_stride,
                                            (first_q_tile + t % q_tiles) * kQueries);
  };

  load_rows_async<kRowTile, kD>(s_k, k + kv_offset, kv_stride, k0, kv_len);
  load_rows_async<kRowTile, kD>(s_v, v + kv_offset, kv_stride, k0, kv_len);
  load_step(0, 0);
  commit_async_copies();

  float dk_acc[kD / 8][4] = {};  // [16, D] per warp: the warp's 16 keys
  float dv_acc[kD / 8][4] = {};
  const int key_in_tile = warp * kWarpRows + lane / 4;  // rows g and g + 8 of the warp

  for (int t = 0; t < steps; ++t) {
    const int stage = t % 2;
    pipeline_step(t, steps, load_step);
    const int q0 = (first_q_tile + t % q_tiles) * kQueries;
    const __nv_bfloat16* s_qt = s_q + stage * kQueries * kS;
    const __nv_bfloat16* s_dot = s_do + stage * kQueries * kS;
    const float* s_lset = s_lse + stage * kQueries;
    const float* s_deltat = s_delta + stage * kQueries;

    float p[1][kQueries / 8][4] = {}, ds[1][kQueries / 8][4] = {};  // P^T and dS^T of the warp's keys
    key_side_gradients<kD, kQueries, 1, kUnroll>(p, ds, s_k + warp * kWarpRows * kS, s_v + warp * kWarpRows * kS,
                                                 s_qt, s_dot, s_lset, s_deltat, k0 + key_in_tile, q0, q_len, kv_len,
                                                 causal, scale_log2, lane);
    warp_product_regs_rows<kQueries, kD, kS>(dv_acc, p[0], s_dot, lane);  // dV += P^T dO
    warp_product_regs_rows<kQueries, kD, kS>(dk_acc, ds[0], s_qt, lane);  // dK += dS^T Q
    __syncthreads();  // the next iteration's copies overwrite this stage
  }

  // The warp's rows of s_k and s_v were last read before the loop's final barrier.
  store_accumulator_rows<kD>(s_k + warp * kWarpRows * kS, dk_acc, scale, scale, lane);
  store_accumulator_rows<kD>(s_v + warp * kWarpRows * kS, dv_acc, 1.0f, 1.0f, lane);
  __syncthreads();
  store_rows<kRowTile, kD>(dk + kv_offset, kv_stride, k0, kv_len, s_k);
  store_rows<kRowTile, kD>(dv + kv_offset, kv_stride, k0, kv_len, s_v);
}

// One block per (64-query tile, head, sample): grid (ceil(Sq / 64), H, B). Streams key tiles in
// order, so dQ sums over keys in a fixed order.
template <int kD>
__global__ void __launch_bounds__(kThreads)
    flash_attention_backward_dq_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                       const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ dout,
                                       const float* __restrict__ lse, const float* __restrict__ delta,
                                       __nv_bfloat16* __restrict__ dq, int heads, int kv_heads, int q_len, int kv_len,
                                       std::int64_t q_stride, std::int64_t kv_stride, bool causal, float scale_log2,
                                       float scale) {
  constexpr int kS = kRowStride<kD>;
  constexpr int kKeys = kBackwardColumns<kD>;
  unsigned char* shared = dynamic_shared_memory();
  __nv_bfloat16* s_q = reinterpret_cast<__nv_bfloat16*>(shared);  // [64, kS]
  __nv_bfloat16* s_do = s_q + kRowTile * kS;                      // [64, kS]
  __nv_bfloat16* s_k = s_do + kRowTile * kS;                      // [2][kKeys, kS]
  __nv_bfloat16* s_v = s_k + 2 * kKeys * kS;                      // [2][kKeys, kS]

  const int b = static_cast<int>(blockIdx.z);
  const int h = static_cast<int>(blockIdx.y);
  const int q0 = static_cast<int>(blockIdx.x) * kRowTile;
  const int kvh = h / (heads / kv_heads);
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t do_stride = static_cast<std::int64_t>(heads) * kD;
  const std::int64_t q_offset = static_cast<std::int64_t>(b) * q_len * q_stride + h * kD;
  const std::int64_t do_offset = (static_cast<std::int64_t>(b) * q_len * heads + h) * kD;
  const std::int64_t kv_offset = static_cast<std::int64_t>(b) * kv_len * kv_stride + kvh * kD;
  const int kv_end = causal ? min(kv_len, min(q0 + kRowTile, q_len) + kv_len - q_len) : kv_len;
  const int key_tiles = (kv_end + kKeys - 1) / kKeys;

  load_rows_async<kRowTile, kD>(s_q, q + q_offset, q_stride, q0, q_len);
  load_rows_async<kRowTile, kD>(s_do, dout + do_offset, do_stride, q0, q_len);
  // Key tile `tile` into pipeline stage `stage`.
  const auto load_keys = [&](int tile, int stage) {
    load_rows_async<kKeys, kD>(s_k + stage * kKeys * kS, k + kv_offset, kv_stride, tile * kKeys, kv_len);
    load_rows_async<kKeys, kD>(s_v + stage * kKeys * kS, v + kv_offset, kv_stride, tile * kKeys, kv_len);
  };
  load_keys(0, 0);
  commit_async_copies();

  // Rows g and g + 8 of the warp: lse (times log2 e) and delta, 0 past Sq (those rows are masked).
  const int row_in_tile = warp * kWarpRows + lane / 4;
  float row_lse[2], row_delta[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = q0 + row_in_tile + 8 * r;
    const std::int64_t row = (static_cast<std::int64_t>(b) * heads + h) * q_len + i;
    row_lse[r] = i < q_len ? lse[row] * kLog2e : 0.0f;
    row_delta[r] = i < q_len ? delta[row] : 0.0f;
  }

  float dq_acc[kD / 8][4] = {};  // [16, D] per warp
  for (int j = 0; j < key_tiles; ++j) {
    const int stage = j % 2;
    pipeline_step(j, key_tiles, load_keys);
    const __nv_bfloat16* s_kj = s_k + stage * kKeys * kS;
    const __nv_bfloat16* s_vj = s_v + stage * kKeys * kS;
    const int k0 = j * kKeys;

    // P [16 queries, kKeys] = exp(Q K^T scale - lse).
    float p[kKeys / 8][4] = {};
    warp_product_rows_rows<kD, kKeys, kS>(p, s_q + warp * kWarpRows * kS, s_kj, lane);
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int key = k0 + n * 8 + 2 * (lane % 4) + i % 2;
        const int query = q0 + row_in_tile + 8 * (i / 2);
        p[n][i] = visible(query, key, q_len, kv_len, causal) ? exp2f(p[n][i] * scale_log2 - row_lse[i / 2]) : 0.0f;
      }
    }
    // dS = P (dP - delta), dP = dO V^T.
    float ds[kKeys / 8][4] = {};
    warp_product_rows_rows<kD, kKeys, kS>(ds, s_do + warp * kWarpRows * kS, s_vj, lane);
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) ds[n][i] = p[n][i] * (ds[n][i] - row_delta[i / 2]);
    }
    warp_product_regs_rows<kKeys, kD, kS>(dq_acc, ds, s_kj, lane);  // dQ += dS K
    __syncthreads();                                                // the next iteration's copies overwrite this stage
  }

  // The warp's rows of s_q were last read before the loop's final barrier.
  store_accumulator_rows<kD>(s_q + warp * kWarpRows * kS, dq_acc, scale, scale, lane);
  __syncthreads();
  store_rows<kRowTile, kD>(dq + q_offset, q_stride, q0, q_len, s_q);
}

void require_aligned(const char* op, std::initializer_list<NamedPointer> buffers) {
  for (const auto& [name, p] : buffers) {
    require(reinterpret_cast<std::uintptr_t>(p) % 16 == 0,
            std::string(op) + ": " + name + " is not 16-byte aligned (tiles move as 16-byte vectors)");
  }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// The current device's SM count, which kAuto compares the fused backward's grid with.
int device_sm_count() {
  int device = 0, sms = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

template <int kD, int kM>
void launch_forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, __nv_bfloat16* out,
                    float* lse, const AttentionDims& d, cudaStream_t stream) {
  constexpr int kShared = forward_shared_bytes<kD, kM>();
  CUDA_CHECK(allow_dynamic_shared(flash_attention_forward_kernel<kD, kM>, kShared));
  const dim3 grid(static_cast<unsigned>(ceil_div(d.q_len, kForwardRows<kM>)), static_cast<unsigned>(d.heads),
                  static_cast<unsigned>(d.batch));
  const float scale_log2 = static_cast<float>(kLog2e / std::sqrt(static_cast<double>(kD)));
  CUDA_CHECK(launch_kernel(flash_attention_forward_kernel<kD, kM>, grid, kThreads, kShared, stream, q, k, v, out, lse,
                           static_cast<int>(d.heads), static_cast<int>(d.kv_heads), static_cast<int>(d.q_len),
                           static_cast<int>(d.kv_len), d.q_stride(), d.kv_stride(), d.causal, scale_log2));
}

template <int kD>
void launch_backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const float* lse,
                     const __nv_bfloat16* dout, const float* delta, __nv_bfloat16* dq, __nv_bfloat16* dk,
                     __nv_bfloat16* dv, const AttentionDims& d, cudaStream_t stream) {
  constexpr int kShared = backward_shared_bytes<kD>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(kD));
  const float scale_log2 = static_cast<float>(kLog2e * scale);
  const int heads = static_cast<int>(d.heads), kv_heads = static_cast<int>(d.kv_heads);
  const int q_len = static_cast<int>(d.q_len), kv_len = static_cast<int>(d.kv_len);

  CUDA_CHECK(allow_dynamic_shared(flash_attention_backward_dkdv_kernel<kD>, kShared));
  const dim3 kv_grid(static_cast<unsigned>(ceil_div(d.kv_len, kRowTile)), static_cast<unsigned>(d.kv_heads),
                     static_cast<unsigned>(d.batch));
  CUDA_CHECK(launch_kernel(flash_attention_backward_dkdv_kernel<kD>, kv_grid, kThreads, kShared, stream, q, k, v, dout,
                           lse, delta, dk, dv, heads, kv_heads, q_len, kv_len, d.q_stride(), d.kv_stride(), d.causal,
                           scale_log2, static_cast<float>(scale)));

  CUDA_CHECK(allow_dynamic_shared(flash_attention_backward_dq_kernel<kD>, kShared));
  const dim3 q_grid(static_cast<unsigned>(ceil_div(d.q_len, kRowTile)), static_cast<unsigned>(d.heads),
                    static_cast<unsigned>(d.batch));
  CUDA_CHECK(launch_kernel(flash_attention_backward_dq_kernel<kD>, q_grid, kThreads, kShared, stream, q, k, v, dout,
                           lse, delta, dq, heads, kv_heads, q_len, kv_len, d.q_stride(), d.kv_stride(), d.causal,
                           scale_log2, static_cast<float>(scale)));
}

}  // namespace

void check_attention_dims(const AttentionDims& d, const char* op) {
  const std::string name(op);
  require_positive(d.batch, op, "batch");
  require_positive(d.heads, op, "heads");
  require_positive(d.kv_heads, op, "kv_heads");
  require_positive(d.q_len, op, "q_len");
  require_positive(d.kv_len, op, "kv_len");
  require(d.head_dim == 64 || d.head_dim == 128,
          name + ": head_dim " + std::to_string(d.head_dim) + " is not one the kernels are built for (64, 128)");
  require(d.heads % d.kv_heads == 0,
          name + ": kv_heads " + std::to_string(d.kv_heads) + " does not divide heads " + std::to_string(d.heads));
  require(!d.causal || d.kv_len >= d.q_len, name + ": causal attention needs kv_len " + std::to_string(d.kv_len) +
                                                " >= q_len " + std::to_string(d.q_len));
  // heads and kv_heads are grid y, batch grid z (the fused backward: KV heads grid x, batch grid y).
  require(d.heads <= 65535, name + ": heads " + std::to_string(d.heads) + " exceeds the grid's y limit 65535");
  require(d.batch <= 65535, name + ": batch " + std::to_string(d.batch) + " exceeds the grid's z limit 65535");
  // Tile offsets are 32-bit; a length near 2^31 would overflow them.
  require(d.q_len <= (std::int64_t{1} << 30) && d.kv_len <= (std::int64_t{1} << 30),
          name + ": q_len and kv_len must be at most 2^30");
  require_int32(ceil_div(d.batch * d.q_len * d.heads, kDeltaThreads / kWarpSize), op, "delta blocks");
  // A row stride holds the row's heads and keeps every head's row 16-byte aligned (the tiles are
  // copied in 8-element vectors).
  const auto check_stride = [&](std::int64_t stride, std::int64_t row, const char* what) {
    require(stride == 0 || (stride >= row && stride % 8 == 0),
            name + ": " + what + " " + std::to_string(stride) + " must be 0 (packed) or a multiple of 8 of at least " +
                std::to_string(row));
  };
  check_stride(d.q_row_stride, d.heads * d.head_dim, "q_row_stride");
  check_stride(d.kv_row_stride, d.kv_heads * d.head_dim, "kv_row_stride");
}

AttentionForwardRows forward_rows_for(const AttentionDims& d, AttentionForwardRows rows) {
  if (rows != AttentionForwardRows::kAuto) return rows;
  return d.head_dim == 128 && d.q_len >= kForward128MinQueries ? AttentionForwardRows::k128 : AttentionForwardRows::k64;
}

void flash_attention_forward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, __nv_bfloat16* out,
                             float* lse, const AttentionDims& d, cudaStream_t stream, AttentionForwardRows rows) {
  constexpr const char* op = "flash_attention_forward";
  check_attention_dims(d, op);
  require_pointers(op, {{"q", q}, {"k", k}, {"v", v}, {"out", out}, {"lse", lse}});
  require_aligned(op, {{"q", q}, {"k", k}, {"v", v}, {"out", out}, {"lse", lse}});
  const bool two_tiles = forward_rows_for(d, rows) == AttentionForwardRows::k128;
  if (d.head_dim == 64 && two_tiles) {
    launch_forward<64, 2>(q, k, v, out, lse, d, stream);
  } else if (d.head_dim == 64) {
    launch_forward<64, 1>(q, k, v, out, lse, d, stream);
  } else if (two_tiles) {
    launch_forward<128, 2>(q, k, v, out, lse, d, stream);
  } else {
    launch_forward<128, 1>(q, k, v, out, lse, d, stream);
  }
}

bool fused_attention_backward_fits(const AttentionDims& d) {
  return d.head_dim == 64 && d.kv_len <= kFusedBackwardMaxKeys;
}

void flash_attention_backward(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                              const __nv_bfloat16* out, const float* lse, const __nv_bfloat16* dout, float* delta,
                              __nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv, const AttentionDims& d,
                              cudaStream_t stream, AttentionBackwardKernels kernels) {
  constexpr const char* op = "flash_attention_backward";
  check_attention_dims(d, op);
  const std::initializer_list<NamedPointer> buffers = {{"q", q},     {"k", k},       {"v", v},         {"out", out},
                                                       {"lse", lse}, {"dout", dout}, {"delta", delta}, {"dq", dq},
                                                       {"dk", dk},   {"dv", dv}};
  require_pointers(op, buffers);
  require_aligned(op, buffers);
  const bool fits = fused_attention_backward_fits(d);
  require(kernels != AttentionBackwardKernels::kFused || fits,
          std::string(op) + ": the fused backward needs head_dim 64 (not " + std::to_string(d.head_dim) +
              ") and kv_len at most " + std::to_string(kFusedBackwardMaxKeys) + " (not " + std::to_string(d.kv_len) +
              ")");
  const bool fused = kernels == AttentionBackwardKernels::kFused ||
                     (kernels == AttentionBackwardKernels::kAuto && fits && !d.causal &&
                      d.kv_len > kFusedBackwardOneTileKeys && d.batch * d.kv_heads >= device_sm_count());

  const std::int64_t rows = d.batch * d.q_len * d.heads;
  CUDA_CHECK(launch_kernel(attention_backward_delta_kernel,
                           static_cast<unsigned>(ceil_div(rows, kDeltaThreads / kWarpSize)), kDeltaThreads, 0, stream,
                           out, dout, delta, static_cast<int>(d.heads), static_cast<int>(d.q_len),
                           static_cast<int>(d.head_dim), rows));
  if (fused) {
    launch_attention_backward_fused(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  } else if (d.head_dim == 64) {
    launch_backward<64>(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  } else {
    launch_backward<128>(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  }
}

}  // namespace ecsim
