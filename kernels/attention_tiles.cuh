// The tile helpers of the fused attention kernels (attention.cu's forward and split backward,
// attention_backward_fused.cu's backward for short key sequences): shared-memory tile copies
// (cp.async, rows padded by 16 bytes so that ldmatrix is free of bank conflicts), one warp's
// [16, N] tile products on mma.sync.m16n8k16 with the accumulators in registers, and the mask.
// Each warp owns 16 rows (kWarpRows) of the tile that stays in shared memory. The PTX
// instructions they are built on: mma_sm80.cuh.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <cstring>

#include "block_reduce.cuh"
#include "mma_sm80.cuh"

namespace ecsim::attention_tiles {

constexpr int kWarpRows = 16;                  // rows of one mma tile: each warp owns 16 rows
constexpr int kTileThreads = 4 * kWarpSize;    // the forward's and the split backward's 4-warp blocks
constexpr int kPad = 8;                        // bf16 per shared row (16 bytes) against bank conflicts
constexpr float kLog2e = 1.4426950408889634f;  // exp(x) = exp2(x log2 e)

// Elements per shared-memory row of a [rows, kD] tile.
template <int kD>
constexpr int kRowStride = kD + kPad;

__device__ __forceinline__ std::uint32_t pack_bf16x2(float low, float high) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(low, high);
  std::uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits;
}

// acc[16, kN] += A[16, kK] B[kN, kK]^T for one warp, both operands row-major in shared memory
// with the reduction dimension contiguous (Q K^T, dO V^T, K Q^T, V dO^T). `a` points at the
// warp's first row, `b` at row 0. acc[n] is the 16x8 accumulator of columns 8n..8n+7.
// kUnroll k-steps are unrolled: fully, unless the caller's registers are short (fully unrolled,
// ptxas hoists every k-step's ldmatrix ahead of the mma's, 12 registers per k-step).
template <int kK, int kN, int kStride, int kUnroll = kK / 16>
__device__ __forceinline__ void warp_product_rows_rows(float (&acc)[kN / 8][4], const __nv_bfloat16* a,
                                                       const __nv_bfloat16* b, int lane) {
#pragma unroll kUnroll
  for (int kk = 0; kk < kK / 16; ++kk) {
    std::uint32_t af[4];
    load_block_16x16<kStride>(af, a + kk * 16, lane);
#pragma unroll
    for (int nn = 0; nn < kN / 16; ++nn) {
      // Block (rows 16nn.., cols 16kk..) of B is B^T's (k, n) block: matrices 0 and 2 are the
      // k halves of columns 16nn..+7, matrices 1 and 3 those of columns 16nn+8..+15.
      std::uint32_t bf[4];
      load_block_16x16<kStride>(bf, b + nn * 16 * kStride + kk * 16, lane);
      mma_16x8x16(acc[2 * nn], af, bf[0], bf[2]);
      mma_16x8x16(acc[2 * nn + 1], af, bf[1], bf[3]);
    }
  }
}

// The same for a warp that owns kM row tiles of 16 (rows 16m.. of its strip): acc[m][16, kN] +=
// A_m[16, kK] B[kN, kK]^T, acc[m][n] the accumulator of tile m's columns 8n..8n+7. Each fragment of
// B is loaded once for all kM tiles, so more tiles per warp read less shared memory per mma.
template <int kM, int kK, int kN, int kStride, int kUnroll = kK / 16>
__device__ __forceinline__ void warp_tiles_product_rows_rows(float (&acc)[kM][kN / 8][4], const __nv_bfloat16* a,
                                                             const __nv_bfloat16* b, int lane) {
  // One row tile takes the single-tile body above: ptxas (CUDA 13.0) allocates this body's kM = 1
  // instance differently, spilling 20 bytes in the 64-query forward at head dim 64, which the
  // single-tile body (the kernel measured on the H100) does not.
  if constexpr (kM == 1) {
    warp_product_rows_rows<kK, kN, kStride, kUnroll>(acc[0], a, b, lane);
  } else {
#pragma unroll kUnroll
    for (int kk = 0; kk < kK / 16; ++kk) {
      std::uint32_t af[kM][4];
#pragma unroll
      for (int m = 0; m < kM; ++m) load_block_16x16<kStride>(af[m], a + m * 16 * kStride + kk * 16, lane);
#pragma unroll
      for (int nn = 0; nn < kN / 16; ++nn) {
        // Block (rows 16nn.., cols 16kk..) of B is B^T's (k, n) block: matrices 0 and 2 are the
        // k halves of columns 16nn..+7, matrices 1 and 3 those of columns 16nn+8..+15.
        std::uint32_t bf[4];
        load_block_16x16<kStride>(bf, b + nn * 16 * kStride + kk * 16, lane);
#pragma unroll
        for (int m = 0; m < kM; ++m) {
          mma_16x8x16(acc[m][2 * nn], af[m], bf[0], bf[2]);
          mma_16x8x16(acc[m][2 * nn + 1], af[m], bf[1], bf[3]);
        }
      }
    }
  }
}

// acc[m][16, kN] += P_m[16, kK] B[kK, kN] for one warp of kM row tiles: P_m is a [16, kK] fp32
// accumulator tile in registers (probabilities or dS), rounded to bf16 here; B is row-major in
// shared memory (V, K, dO, Q), loaded transposed, once for all kM tiles. The accumulator layout of
// columns 16kk..16kk+15 (tiles 2kk and 2kk+1) is exactly the A-operand layout of the k-step kk, so
// P never leaves the registers.
template <int kM, int kK, int kN, int kStride>
__device__ __forceinline__ void warp_tiles_product_regs_rows(float (&acc)[kM][kN / 8][4],
                                                             const float (&p)[kM][kK / 8][4], const __nv_bfloat16* b,
                                                             int lane) {
#pragma unroll
  for (int kk = 0; kk < kK / 16; ++kk) {
    std::uint32_t af[kM][4];
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      af[m][0] = pack_bf16x2(p[m][2 * kk][0], p[m][2 * kk][1]);
      af[m][1] = pack_bf16x2(p[m][2 * kk][2], p[m][2 * kk][3]);
      af[m][2] = pack_bf16x2(p[m][2 * kk + 1][0], p[m][2 * kk + 1][1]);
      af[m][3] = pack_bf16x2(p[m][2 * kk + 1][2], p[m][2 * kk + 1][3]);
    }
#pragma unroll
    for (int nn = 0; nn < kN / 16; ++nn) {
      // Transposed, matrices 0 and 1 are the k halves of columns 16nn..+7, 2 and 3 of 16nn+8..+15.
      std::uint32_t bf[4];
      load_block_16x16_transposed<kStride>(bf, b + kk * 16 * kStride + nn * 16, lane);
#pragma unroll
      for (int m = 0; m < kM; ++m) {
        mma_16x8x16(acc[m][2 * nn], af[m], bf[0], bf[1]);
        mma_16x8x16(acc[m][2 * nn + 1], af[m], bf[2], bf[3]);
      }
    }
  }
}

// The same for a warp of one row tile: acc[16, kN] += P[16, kK] B[kK, kN].
template <int kK, int kN, int kStride>
__device__ __forceinline__ void warp_product_regs_rows(float (&acc)[kN / 8][4], const float (&p)[kK / 8][4],
                                                       const __nv_bfloat16* b, int lane) {
  warp_tiles_product_regs_rows<1, kK, kN, kStride>(reinterpret_cast<float(&)[1][kN / 8][4]>(acc),
                                                   reinterpret_cast<const float(&)[1][kK / 8][4]>(p), b, lane);
}

// Starts copying rows [row0, row0 + kRows) of one head into a shared tile [kRows, kD + kPad].
// `head` points at row 0 of the head; rows are `stride` elements apart. Rows at or past `len` are
// zero-filled: masked positions then hold finite values (stale memory could hold a NaN, and a NaN
// times a zero probability is still NaN).
template <int kRows, int kD, int kBlockThreads = kTileThreads>
__device__ __forceinline__ void load_rows_async(__nv_bfloat16* tile, const __nv_bfloat16* head, std::int64_t stride,
                                                int row0, int len) {
  constexpr int kChunks = kD / 8;  // 16-byte pieces per row
  constexpr int kPieces = kRows * kChunks;
#pragma unroll
  for (int i = 0; i < (kPieces + kBlockThreads - 1) / kBlockThreads; ++i) {
    const int c = i * kBlockThreads + static_cast<int>(threadIdx.x);
    if (kPieces % kBlockThreads != 0 && c >= kPieces) break;  // a tile smaller than the block's pieces
    const int r = c / kChunks;
    const int col = (c % kChunks) * 8;
    const bool valid = row0 + r < len;
    const __nv_bfloat16* src = head + (valid ? static_cast<std::int64_t>(row0 + r) * stride : 0) + col;
    copy_16_async(tile + r * kRowStride<kD> + col, src, valid);
  }
}

// Step t of a loop of `steps` over a two-stage shared-memory pipeline: starts the copies of step
// t + 1 into the other stage (`prefetch(t + 1, stage)`, stage = 1 - t % 2) and waits for step t's
// (the last step drains every copy), then a barrier makes them visible to the whole block. The
// caller committed step 0's copies before the loop and ends each step with a barrier of its own
// before the next step's copies overwrite the stage it read.
template <typename Prefetch>
__device__ __forceinline__ void pipeline_step(int t, int steps, const Prefetch& prefetch) {
  if (t + 1 < steps) {
    prefetch(t + 1, 1 - t % 2);
    commit_async_copies();
    wait_async_copies<1>();
  } else {
    wait_async_copies<0>();
  }
  __syncthreads();
}

// Writes a warp's [16, kD] accumulator tile, row g scaled by scale_low and row g + 8 by
// scale_high, as bf16 into the warp's 16 rows of a shared tile.
template <int kD>
__device__ __forceinline__ void store_accumulator_rows(__nv_bfloat16* rows, const float (&acc)[kD / 8][4],
                                                       float scale_low, float scale_high, int lane) {
  const int r = lane / 4;
  const int c = 2 * (lane % 4);
#pragma unroll
  for (int n = 0; n < kD / 8; ++n) {
    *reinterpret_cast<__nv_bfloat162*>(rows + r * kRowStride<kD> + n * 8 + c) =
        __floats2bfloat162_rn(acc[n][0] * scale_low, acc[n][1] * scale_low);
    *reinterpret_cast<__nv_bfloat162*>(rows + (r + 8) * kRowStride<kD> + n * 8 + c) =
        __floats2bfloat162_rn(acc[n][2] * scale_high, acc[n][3] * scale_high);
  }
}

// Copies a shared tile [kRows, kD + kPad] to rows [row0, row0 + kRows) of one head in 16-byte
// stores, skipping rows at or past `len`.
template <int kRows, int kD, int kBlockThreads = kTileThreads>
__device__ __forceinline__ void store_rows(__nv_bfloat16* head, std::int64_t stride, int row0, int len,
                                           const __nv_bfloat16* tile) {
  constexpr int kChunks = kD / 8;
  static_assert(kRows * kChunks % kBlockThreads == 0, "every thread stores the same number of pieces");
#pragma unroll
  for (int i = 0; i < kRows * kChunks / kBlockThreads; ++i) {
    const int c = i * kBlockThreads + static_cast<int>(threadIdx.x);
    const int r = c / kChunks;
    const int col = (c % kChunks) * 8;
    if (row0 + r < len) {
      *reinterpret_cast<uint4*>(head + static_cast<std::int64_t>(row0 + r) * stride + col) =
          *reinterpret_cast<const uint4*>(tile + r * kRowStride<kD> + col);
    }
  }
}

// Whether query `query` attends to key `key`: both inside their lengths and, when causal, the key
// at most Skv - Sq past the query.
__device__ __forceinline__ bool visible(int query, int key, int q_len, int kv_len, bool causal) {
  return query < q_len && key < kv_len && !(causal && key > query + (kv_len - q_len));
}

// The query side of one backward step in a block that holds keys: query head h's rows q0.. of Q and
// dO into one stage's shared tiles [kQueries, kD + kPad] (cp.async, rows past Sq zero-filled), and
// their lse (times log2 e) and delta, 0 past Sq (those rows are masked). dout is packed (H D rows).
template <int kQueries, int kD, int kBlockThreads>
__device__ __forceinline__ void load_query_step(__nv_bfloat16* s_q, __nv_bfloat16* s_do, float* s_lse,
                                                float* s_delta, const __nv_bfloat16* q, const __nv_bfloat16* dout,
                                                const float* lse, const float* delta, int b, int h, int heads,
                                                int q_len, std::int64_t q_stride, int q0) {
  const std::int64_t q_offset = static_cast<std::int64_t>(b) * q_len * q_stride + h * kD;
  const std::int64_t do_offset = (static_cast<std::int64_t>(b) * q_len * heads + h) * kD;
  load_rows_async<kQueries, kD, kBlockThreads>(s_q, q + q_offset, q_stride, q0, q_len);
  load_rows_async<kQueries, kD, kBlockThreads>(s_do, dout + do_offset, static_cast<std::int64_t>(heads) * kD, q0,
                                               q_len);
  if (static_cast<int>(threadIdx.x) < kQueries) {
    const int i = q0 + static_cast<int>(threadIdx.x);
    const std::int64_t row = (static_cast<std::int64_t>(b) * heads + h) * q_len + i;
    s_lse[threadIdx.x] = i < q_len ? lse[row] * kLog2e : 0.0f;
    s_delta[threadIdx.x] = i < q_len ? delta[row] : 0.0f;
  }
}

// One warp's P^T and dS^T against a step's query tiles (load_query_step's), for its kM row tiles
// of 16 keys, [16, kQueries] each, recomputed from the forward's lse: P^T = exp(K Q^T scale -
// lse), 0 where the mask hides the pair, and dS^T = P^T (V dO^T - delta). k_rows and v_rows are
// the warp's 16 kM rows of K and V in shared memory; `key` is the index of the key in row g (lane
// / 4) of its first tile, `q0` the query tiles' first query.
template <int kD, int kQueries, int kM = 1, int kUnroll = kD / 16>
__device__ __forceinline__ void key_side_gradients(float (&p)[kM][kQueries / 8][4], float (&ds)[kM][kQueries / 8][4],
                                                   const __nv_bfloat16* k_rows, const __nv_bfloat16* v_rows,
                                                   const __nv_bfloat16* s_q, const __nv_bfloat16* s_do,
                                                   const float* s_lse, const float* s_delta, int key, int q0,
                                                   int q_len, int kv_len, bool causal, float scale_log2, int lane) {
  constexpr int kS = kRowStride<kD>;
  warp_tiles_product_rows_rows<kM, kD, kQueries, kS, kUnroll>(p, k_rows, s_q, lane);
#pragma unroll
  for (int m = 0; m < kM; ++m) {
#pragma unroll
    for (int n = 0; n < kQueries / 8; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int col = n * 8 + 2 * (lane % 4) + i % 2;
        p[m][n][i] = visible(q0 + col, key + 16 * m + 8 * (i / 2), q_len, kv_len, causal)
                         ? exp2f(p[m][n][i] * scale_log2 - s_lse[col])
                         : 0.0f;
      }
    }
  }
  warp_tiles_product_rows_rows<kM, kD, kQueries, kS, kUnroll>(ds, v_rows, s_do, lane);
#pragma unroll
  for (int m = 0; m < kM; ++m) {
#pragma unroll
    for (int n = 0; n < kQueries / 8; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) ds[m][n][i] = p[m][n][i] * (ds[m][n][i] - s_delta[n * 8 + 2 * (lane % 4) + i % 2]);
    }
  }
}

}  // namespace ecsim::attention_tiles
