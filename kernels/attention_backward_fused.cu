// Attention backward in one pass for short key sequences (op `attention_bwd`, chosen by
// flash_attention_backward in attention.cu): head dim 64, at most 256 keys, which covers every
// attention EC-DiT runs (256 image tokens, 128 text tokens, 128-token masked training).
//   q, dout, dq [B, Sq, H, D]; k, v, dk, dv [B, Skv, KVH, D] bf16 (q/dq and k/v/dk/dv rows may be
//   wider, AttentionDims); lse, delta [B, H, Sq] fp32, delta from attention.cu's delta pass.
//
// One block per (KV head, sample) holds all of its keys: kKeyWarps warps (8 for up to 128 keys,
// 16 for up to 256), each owning 16 keys, K and V resident in shared memory. The block streams
// 32-query steps of each query head of the group in turn (head-major, two stages, cp.async); per
// step
//   P^T = exp(K Q^T scale - lse), dS^T = P^T (V dO^T - delta)   per warp: [16 keys, 32 queries]
//   dV += P^T dO, dK += dS^T Q                                   in registers, as the split pass
//   dS^T to shared memory (bf16), then dQ [32, 64] = dS K over every key: its 8 tiles of [16, 16]
//   go to 8 warps; with 16 warps each tile is summed in two key halves, the second half's warp
//   handing its partial to the first through shared memory, which adds it.
// A step's dQ rows are complete when the step ends, so there is no dQ accumulator in memory and no
// atomic: every sum runs in a fixed order and reruns match bit for bit. Against the split backward
// (a dK/dV pass per 64-key tile and a dQ pass per 64-query tile) it runs 5 tile products per step
// instead of 7 (the dQ pass recomputes S and dP) and reads Q and dO once instead of twice.
// Shared memory: K, V [keys, 72]; Q, dO [2][32, 72]; dS^T [keys, 40]; lse, delta [2][32]; with 16
// warps also 8 partial [16, 16] fp32 tiles: 118.5 KiB at 16 warps, 64.5 KiB at 8.
// Tile helpers: attention_tiles.cuh. CPU reference: ref/attention.hpp. Tests: the attention tests
// run it beside the split backward (tests/kernels/attention_gpu_test.cpp; without a GPU,
// tests/emulation/attention_emulated_test.cpp). Benchmark: build/bin/ecsim-bench-attention.
#include <cmath>
#include <cstdint>

#include "attention_backward_fused.cuh"
#include "attention_tiles.cuh"
#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "launch.cuh"

namespace ecsim {
namespace {

using namespace attention_tiles;

constexpr int kD = 64;
constexpr int kS = kRowStride<kD>;
constexpr int kQueries = 32;                         // queries per streamed step
constexpr int kDsStride = kQueries + kPad;           // 80-byte rows: ldmatrix's 8 rows hit distinct banks
constexpr int kDqTiles = kQueries / 16 * (kD / 16);  // [16, 16] tiles of one step's dQ: 8
constexpr int kDqTileFloats = 16 * 16;

template <int kKeyWarps>
constexpr int fused_shared_bytes() {
  constexpr int kKeys = kKeyWarps * kWarpRows;
  constexpr int kBf16 = 2 * kKeys * kS + 2 * 2 * kQueries * kS + kKeys * kDsStride;
  constexpr int kFloats = 2 * 2 * kQueries + (kKeyWarps / kDqTiles - 1) * kDqTiles * kDqTileFloats;
  return kBf16 * 2 + kFloats * 4;
}

// One block per (KV head, sample): grid (KVH, B). ptxas (CUDA 13.0, sm_90): 195 registers at 8
// warps, no spill (one block, 8 warps per SM, as the split dK/dV pass's 232); 128 at 16 warps with
// 100 bytes spilled (one block, 16 warps per SM). Bounding 8 warps to two blocks per SM spills 140.
template <int kKeyWarps>
__global__ void __launch_bounds__(kKeyWarps* kWarpSize)
    flash_attention_backward_fused_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                          const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ dout,
                                          const float* __restrict__ lse, const float* __restrict__ delta,
                                          __nv_bfloat16* __restrict__ dq, __nv_bfloat16* __restrict__ dk,
                                          __nv_bfloat16* __restrict__ dv, int heads, int kv_heads, int q_len,
                                          int kv_len, std::int64_t q_stride, std::int64_t kv_stride, bool causal,
                                          float scale_log2, float scale) {
  constexpr int kThreads = kKeyWarps * kWarpSize;
  constexpr int kKeys = kKeyWarps * kWarpRows;
  constexpr int kKeyParts = kKeyWarps / kDqTiles;  // warps that sum one dQ tile: 1 or 2
  constexpr int kPartKeys = kKeys / kKeyParts;
  static_assert(kKeyWarps % kDqTiles == 0, "every dQ tile gets the same number of warps");
  unsigned char* shared = dynamic_shared_memory();
  __nv_bfloat16* s_k = reinterpret_cast<__nv_bfloat16*>(shared);      // [kKeys, kS]
  __nv_bfloat16* s_v = s_k + kKeys * kS;                              // [kKeys, kS]
  __nv_bfloat16* s_q = s_v + kKeys * kS;                              // [2][kQueries, kS]
  __nv_bfloat16* s_do = s_q + 2 * kQueries * kS;                      // [2][kQueries, kS]
  __nv_bfloat16* s_ds = s_do + 2 * kQueries * kS;                     // [kKeys, kDsStride]: dS^T
  float* s_lse = reinterpret_cast<float*>(s_ds + kKeys * kDsStride);  // [2][kQueries], times log2 e
  float* s_delta = s_lse + 2 * kQueries;                              // [2][kQueries]
  float* s_dq_part = s_delta + 2 * kQueries;                          // [kDqTiles][256]: second key half's

  const int b = static_cast<int>(blockIdx.y);
  const int kvh = static_cast<int>(blockIdx.x);
  const int group = heads / kv_heads;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t kv_offset = static_cast<std::int64_t>(b) * kv_len * kv_stride + kvh * kD;
  const int q_tiles = (q_len + kQueries - 1) / kQueries;
  const int steps = group * q_tiles;

  // Step t covers query head kvh * group + t / q_tiles, queries (t % q_tiles) * kQueries onward.
  auto load_step = [&](int t, int stage) {
    load_query_step<kQueries, kD, kThreads>(s_q + stage * kQueries * kS, s_do + stage * kQueries * kS,
                                            s_lse + stage * kQueries, s_delta + stage * kQueries, q, dout, lse, delta,
                                            b, kvh * group + t / q_tiles, heads, q_len, q_stride,
                                            t % q_tiles * kQueries);
  };

  // Keys past Skv are zero-filled: their P and dS are masked to 0 and their dK, dV rows not stored.
  load_rows_async<kKeys, kD, kThreads>(s_k, k + kv_offset, kv_stride, 0, kv_len);
  load_rows_async<kKeys, kD, kThreads>(s_v, v + kv_offset, kv_stride, 0, kv_len);
  load_step(0, 0);
  commit_async_copies();

  float dk_acc[kD / 8][4] = {};  // [16, D] per warp: the warp's 16 keys
  float dv_acc[kD / 8][4] = {};
  const int key_in_block = warp * kWarpRows + lane / 4;  // rows g and g + 8 of the warp
  // The warp's dQ tile: queries dq_row0.. and dims dq_col0.. of the step, summed over its key part.
  const int dq_tile = warp % kDqTiles;
  const int dq_part = warp / kDqTiles;
  const int dq_row0 = dq_tile / (kD / 16) * 16;
  const int dq_col0 = dq_tile % (kD / 16) * 16;

  for (int t = 0; t < steps; ++t) {
    const int stage = t % 2;
    if (t + 1 < steps) {
      load_step(t + 1, 1 - stage);
      commit_async_copies();
      wait_async_copies<1>();
    } else {
      wait_async_copies<0>();
    }
    __syncthreads();
    const int h = kvh * group + t / q_tiles;
    const int q0 = t % q_tiles * kQueries;
    const __nv_bfloat16* s_qt = s_q + stage * kQueries * kS;
    const __nv_bfloat16* s_dot = s_do + stage * kQueries * kS;
    const float* s_lset = s_lse + stage * kQueries;
    const float* s_deltat = s_delta + stage * kQueries;

    float p[kQueries / 8][4] = {}, ds[kQueries / 8][4] = {};  // P^T and dS^T of the warp's keys
    key_side_gradients<kD, kQueries>(p, ds, s_k + warp * kWarpRows * kS, s_v + warp * kWarpRows * kS, s_qt, s_dot,
                                     s_lset, s_deltat, key_in_block, q0, q_len, kv_len, causal, scale_log2, lane);
    // dS^T rounded to bf16, as the products round it, for the dQ product across warps.
#pragma unroll
    for (int n = 0; n < kQueries / 8; ++n) {
      __nv_bfloat16* row = s_ds + key_in_block * kDsStride + n * 8 + 2 * (lane % 4);
      *reinterpret_cast<__nv_bfloat162*>(row) = __floats2bfloat162_rn(ds[n][0], ds[n][1]);
      *reinterpret_cast<__nv_bfloat162*>(row + 8 * kDsStride) = __floats2bfloat162_rn(ds[n][2], ds[n][3]);
    }
    warp_product_regs_rows<kQueries, kD, kS>(dv_acc, p, s_dot, lane);  // dV += P^T dO
    warp_product_regs_rows<kQueries, kD, kS>(dk_acc, ds, s_qt, lane);  // dK += dS^T Q
    __syncthreads();  // dS^T complete

    // The warp's dQ tile over its key part: A = dS (dS^T's block loaded transposed: register i of
    // the transposed load is matrix i of dS^T's block, i.e. matrix {0, 2, 1, 3}[i] of dS's), B = K.
    float dq_acc[2][4] = {};
#pragma unroll 4
    for (int kk = 0; kk < kPartKeys / 16; ++kk) {
      const int key0 = dq_part * kPartKeys + kk * 16;
      std::uint32_t t4[4];
      load_block_16x16_transposed<kDsStride>(t4, s_ds + key0 * kDsStride + dq_row0, lane);
      const std::uint32_t a[4] = {t4[0], t4[2], t4[1], t4[3]};
      std::uint32_t bf[4];
      load_block_16x16_transposed<kS>(bf, s_k + key0 * kS + dq_col0, lane);
      mma_16x8x16(dq_acc[0], a, bf[0], bf[1]);
      mma_16x8x16(dq_acc[1], a, bf[2], bf[3]);
    }
    if constexpr (kKeyParts == 2) {
      if (dq_part == 1) {
#pragma unroll
        for (int n = 0; n < 2; ++n) {
#pragma unroll
          for (int i = 0; i < 4; ++i) s_dq_part[dq_tile * kDqTileFloats + (n * 4 + i) * kWarpSize + lane] = dq_acc[n][i];
        }
      }
    }
    // The partials are written; and the next step's copies and dS^T overwrite what this one read.
    __syncthreads();
    if (dq_part == 0) {
      __nv_bfloat16* dq_head = dq + static_cast<std::int64_t>(b) * q_len * q_stride + h * kD;
#pragma unroll
      for (int n = 0; n < 2; ++n) {
        if constexpr (kKeyParts == 2) {
#pragma unroll
          for (int i = 0; i < 4; ++i) dq_acc[n][i] += s_dq_part[dq_tile * kDqTileFloats + (n * 4 + i) * kWarpSize + lane];
        }
        const int col = dq_col0 + n * 8 + 2 * (lane % 4);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int query = q0 + dq_row0 + lane / 4 + 8 * r;
          if (query < q_len) {
            *reinterpret_cast<__nv_bfloat162*>(dq_head + static_cast<std::int64_t>(query) * q_stride + col) =
                __floats2bfloat162_rn(dq_acc[n][2 * r] * scale, dq_acc[n][2 * r + 1] * scale);
          }
        }
      }
    }
  }

  // The warp's rows of s_k and s_v were last read before the loop's final barrier.
  store_accumulator_rows<kD>(s_k + warp * kWarpRows * kS, dk_acc, scale, scale, lane);
  store_accumulator_rows<kD>(s_v + warp * kWarpRows * kS, dv_acc, 1.0f, 1.0f, lane);
  __syncthreads();
  store_rows<kKeys, kD, kThreads>(dk + kv_offset, kv_stride, 0, kv_len, s_k);
  store_rows<kKeys, kD, kThreads>(dv + kv_offset, kv_stride, 0, kv_len, s_v);
}

template <int kKeyWarps>
void launch_fused(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const float* lse,
                  const __nv_bfloat16* dout, const float* delta, __nv_bfloat16* dq, __nv_bfloat16* dk,
                  __nv_bfloat16* dv, const AttentionDims& d, cudaStream_t stream) {
  constexpr int kShared = fused_shared_bytes<kKeyWarps>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(kD));
  CUDA_CHECK(allow_dynamic_shared(flash_attention_backward_fused_kernel<kKeyWarps>, kShared));
  const dim3 grid(static_cast<unsigned>(d.kv_heads), static_cast<unsigned>(d.batch));
  CUDA_CHECK(launch_kernel(flash_attention_backward_fused_kernel<kKeyWarps>, grid, kKeyWarps * kWarpSize, kShared,
                           stream, q, k, v, dout, lse, delta, dq, dk, dv, static_cast<int>(d.heads),
                           static_cast<int>(d.kv_heads), static_cast<int>(d.q_len), static_cast<int>(d.kv_len),
                           d.q_stride(), d.kv_stride(), d.causal, static_cast<float>(kLog2e * scale),
                           static_cast<float>(scale)));
}

}  // namespace

void launch_attention_backward_fused(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                                     const float* lse, const __nv_bfloat16* dout, const float* delta,
                                     __nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv, const AttentionDims& d,
                                     cudaStream_t stream) {
  if (d.kv_len <= 8 * kWarpRows) {
    launch_fused<8>(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  } else {
    launch_fused<16>(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  }
}

}  // namespace ecsim
