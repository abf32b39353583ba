// Attention backward in one pass for short key sequences (op `attention_bwd`, chosen by
// flash_attention_backward in attention.cu): head dim 64, at most 256 keys, which covers every
// attention EC-DiT runs (256 image tokens, 128 text tokens, 128-token masked training).
//   q, dout, dq [B, Sq, H, D]; k, v, dk, dv [B, Skv, KVH, D] bf16 (q/dq and k/v/dk/dv rows may be
//   wider, AttentionDims); lse, delta [B, H, Sq] fp32, delta from attention.cu's delta pass.
//
// One block per (KV head, sample) holds all of its keys: 8 warps, each owning kM row tiles of 16
// keys (kM 1 for up to 128 keys, 2 for up to 256), K and V resident in shared memory. The block
// streams 32-query steps of each query head of the group in turn (head-major, two stages,
// cp.async); per step
//   P^T = exp(K Q^T scale - lse), dS^T = P^T (V dO^T - delta)   per warp: [16 kM keys, 32 queries]
//   dV += P^T dO, dK += dS^T Q                                   in registers, as the split pass
//   dS^T to shared memory (bf16), then dQ [32, 64] = dS K over every key, one [16, 16] tile of it
//   per warp, written out at once.
// A step's dQ rows are complete when the step ends, so there is no dQ accumulator in memory and no
// atomic: every sum runs in a fixed order and reruns match bit for bit. Against the split backward
// (a dK/dV pass per 64-key tile and a dQ pass per 64-query tile) it runs 5 tile products per step
// instead of 7 (the dQ pass recomputes S and dP) and reads Q and dO once instead of twice. With two
// row tiles per warp every Q and dO fragment a warp loads serves both: by the bytes ldmatrix reads,
// 256 per mma against the split passes' 288 and one tile's 350 (16 warps of 16 keys, which this
// file ran first: 128 registers with 100 bytes spilled).
// Shared memory: K, V [keys, 72]; Q, dO [2][32, 72]; dS^T [keys, 40]; lse, delta [2][32]: 64.5
// KiB for 128 keys, 110.5 KiB for 256.
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
constexpr int kWarps = kQueries / 16 * (kD / 16);    // one per [16, 16] tile of a step's dQ: 8
constexpr int kThreads = kWarps * kWarpSize;

template <int kM>
constexpr int fused_shared_bytes() {
  constexpr int kKeys = kWarps * kM * kWarpRows;
  constexpr int kBf16 = 2 * kKeys * kS + 2 * 2 * kQueries * kS + kKeys * kDsStride;
  return kBf16 * 2 + 2 * 2 * kQueries * static_cast<int>(sizeof(float));
}

// One block per (KV head, sample): grid (KVH, B). ptxas (CUDA 13.0, sm_90): 181 registers at kM 1,
// no spill; 255 at kM 2 with 68 bytes spilled. So one block, 8 warps, per SM either way: as many
// warps as the split dK/dV pass runs (two blocks of 4 at its 232 registers).
template <int kM>
__global__ void __launch_bounds__(kThreads)
    flash_attention_backward_fused_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                          const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ dout,
                                          const float* __restrict__ lse, const float* __restrict__ delta,
                                          __nv_bfloat16* __restrict__ dq, __nv_bfloat16* __restrict__ dk,
                                          __nv_bfloat16* __restrict__ dv, int heads, int kv_heads, int q_len,
                                          int kv_len, std::int64_t q_stride, std::int64_t kv_stride, bool causal,
                                          float scale_log2, float scale) {
  constexpr int kStrip = kM * kWarpRows;  // a warp's keys
  constexpr int kKeys = kWarps * kStrip;
  unsigned char* shared = dynamic_shared_memory();
  __nv_bfloat16* s_k = reinterpret_cast<__nv_bfloat16*>(shared);      // [kKeys, kS]
  __nv_bfloat16* s_v = s_k + kKeys * kS;                              // [kKeys, kS]
  __nv_bfloat16* s_q = s_v + kKeys * kS;                              // [2][kQueries, kS]
  __nv_bfloat16* s_do = s_q + 2 * kQueries * kS;                      // [2][kQueries, kS]
  __nv_bfloat16* s_ds = s_do + 2 * kQueries * kS;                     // [kKeys, kDsStride]: dS^T
  float* s_lse = reinterpret_cast<float*>(s_ds + kKeys * kDsStride);  // [2][kQueries], times log2 e
  float* s_delta = s_lse + 2 * kQueries;                              // [2][kQueries]

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

  float dk_acc[kM][kD / 8][4] = {};  // [16, D] per row tile of the warp's keys
  float dv_acc[kM][kD / 8][4] = {};
  const int key_in_block = warp * kStrip + lane / 4;  // rows g and g + 8 of the warp's first tile
  // The warp's dQ tile: queries dq_row0.. and dims dq_col0.. of the step.
  const int dq_row0 = warp / (kD / 16) * 16;
  const int dq_col0 = warp % (kD / 16) * 16;

  for (int t = 0; t < steps; ++t) {
    const int stage = t % 2;
    pipeline_step(t, steps, load_step);
    const int h = kvh * group + t / q_tiles;
    const int q0 = t % q_tiles * kQueries;
    const __nv_bfloat16* s_qt = s_q + stage * kQueries * kS;
    const __nv_bfloat16* s_dot = s_do + stage * kQueries * kS;
    const float* s_lset = s_lse + stage * kQueries;
    const float* s_deltat = s_delta + stage * kQueries;

    float p[kM][kQueries / 8][4] = {}, ds[kM][kQueries / 8][4] = {};  // P^T and dS^T of the warp's keys
    key_side_gradients<kD, kQueries, kM>(p, ds, s_k + warp * kStrip * kS, s_v + warp * kStrip * kS, s_qt, s_dot,
                                         s_lset, s_deltat, key_in_block, q0, q_len, kv_len, causal, scale_log2, lane);
    // dS^T rounded to bf16, as the products round it, for the dQ product across warps.
#pragma unroll
    for (int m = 0; m < kM; ++m) {
#pragma unroll
      for (int n = 0; n < kQueries / 8; ++n) {
        __nv_bfloat16* row = s_ds + (key_in_block + 16 * m) * kDsStride + n * 8 + 2 * (lane % 4);
        *reinterpret_cast<__nv_bfloat162*>(row) = __floats2bfloat162_rn(ds[m][n][0], ds[m][n][1]);
        *reinterpret_cast<__nv_bfloat162*>(row + 8 * kDsStride) = __floats2bfloat162_rn(ds[m][n][2], ds[m][n][3]);
      }
    }
    warp_tiles_product_regs_rows<kM, kQueries, kD, kS>(dv_acc, p, s_dot, lane);  // dV += P^T dO
    warp_tiles_product_regs_rows<kM, kQueries, kD, kS>(dk_acc, ds, s_qt, lane);  // dK += dS^T Q
    __syncthreads();  // dS^T complete

    // The warp's dQ tile over every key: A = dS (dS^T's block loaded transposed: register i of the
    // transposed load is matrix i of dS^T's block, i.e. matrix {0, 2, 1, 3}[i] of dS's), B = K.
    float dq_acc[2][4] = {};
#pragma unroll 4
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      std::uint32_t t4[4];
      load_block_16x16_transposed<kDsStride>(t4, s_ds + kk * 16 * kDsStride + dq_row0, lane);
      const std::uint32_t a[4] = {t4[0], t4[2], t4[1], t4[3]};
      std::uint32_t bf[4];
      load_block_16x16_transposed<kS>(bf, s_k + kk * 16 * kS + dq_col0, lane);
      mma_16x8x16(dq_acc[0], a, bf[0], bf[1]);
      mma_16x8x16(dq_acc[1], a, bf[2], bf[3]);
    }
    __nv_bfloat16* dq_head = dq + static_cast<std::int64_t>(b) * q_len * q_stride + h * kD;
#pragma unroll
    for (int n = 0; n < 2; ++n) {
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
    __syncthreads();  // the next step's copies and dS^T overwrite what this one read
  }

  // The warp's rows of s_k and s_v were last read before the loop's final barrier.
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    store_accumulator_rows<kD>(s_k + (warp * kStrip + 16 * m) * kS, dk_acc[m], scale, scale, lane);
    store_accumulator_rows<kD>(s_v + (warp * kStrip + 16 * m) * kS, dv_acc[m], 1.0f, 1.0f, lane);
  }
  __syncthreads();
  store_rows<kKeys, kD, kThreads>(dk + kv_offset, kv_stride, 0, kv_len, s_k);
  store_rows<kKeys, kD, kThreads>(dv + kv_offset, kv_stride, 0, kv_len, s_v);
}

template <int kM>
void launch_fused(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const float* lse,
                  const __nv_bfloat16* dout, const float* delta, __nv_bfloat16* dq, __nv_bfloat16* dk,
                  __nv_bfloat16* dv, const AttentionDims& d, cudaStream_t stream) {
  constexpr int kShared = fused_shared_bytes<kM>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(kD));
  CUDA_CHECK(allow_dynamic_shared(flash_attention_backward_fused_kernel<kM>, kShared));
  const dim3 grid(static_cast<unsigned>(d.kv_heads), static_cast<unsigned>(d.batch));
  CUDA_CHECK(launch_kernel(flash_attention_backward_fused_kernel<kM>, grid, kThreads, kShared, stream, q, k, v, dout,
                           lse, delta, dq, dk, dv, static_cast<int>(d.heads), static_cast<int>(d.kv_heads),
                           static_cast<int>(d.q_len), static_cast<int>(d.kv_len), d.q_stride(), d.kv_stride(),
                           d.causal, static_cast<float>(kLog2e * scale), static_cast<float>(scale)));
}

}  // namespace

void launch_attention_backward_fused(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                                     const float* lse, const __nv_bfloat16* dout, const float* delta,
                                     __nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv, const AttentionDims& d,
                                     cudaStream_t stream) {
  if (d.kv_len <= kWarps * kWarpRows) {
    launch_fused<1>(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  } else {
    launch_fused<2>(q, k, v, lse, dout, delta, dq, dk, dv, d, stream);
  }
}

}  // namespace ecsim
