// bf16 arrays moved in chunks: 8 elements (one 16-byte vector, a single load or store instruction)
// where the length and every base pointer allow it, else 1 element (2 bytes). A warp's 16-byte
// accesses keep several times the bytes in flight of its 2-byte ones, which is what a memory-bound
// kernel needs to come near the device's bandwidth (docs/PERFORMANCE.md, routing).
//   host:   launch_by_chunk(chunks_vectorizable(hidden, {x, y}), [&](auto chunk) {
//             constexpr int kVec = decltype(chunk)::value;  // 8 or 1
//             CUDA_CHECK(launch_kernel(my_kernel<kVec>, ...)); });
//   device: load_chunk<kVec>(row + c, v); store_chunk<kVec>(row + c, v);
//           warp_copy_row<kVec>(dst, src, hidden, lane);
//           for_each_chunk<kVec>(n, [&](std::int64_t i) { ... elements i .. i + kVec - 1 ... });
//           for_each_row_chunk<kVec, kThreads>(hidden, [&](int c) { ... });  // a block over a row
// A flat array of n elements is one row of n; a kernel that indexes a per-row or per-column
// operand (a gate, a bias) asks with that row's length, so that no chunk straddles two rows.
// fp32 arrays move in the same 8-element chunks (two vectors; cast's input, AdamW's buffers).
// Kernels that use it: the permute and unpermute kernels (ec_permute.cu, tc_permute.cu,
// row_gather_sum.cuh), the elementwise ones (gelu, silu, residual_add, gate_residual, bias_add,
// cast, flow_loss, adamw) and adaln_layernorm's row kernels. Element c of a row is read and
// computed the same way whichever the chunk, so every per-element result has the same bits either
// way; only a sum over many elements (a norm's mean, a loss, the combine backward's gate gradient)
// adds in another order.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "block_reduce.cuh"  // kWarpSize

namespace ecsim {

constexpr int kBf16Vector = 8;  // bf16 per 16-byte vector

// The storage of one chunk: a 16-byte vector, or one element.
template <int kVec>
using Bf16Chunk = std::conditional_t<kVec == kBf16Vector, uint4, __nv_bfloat16>;

// Whether arrays (or rows) of `length` elements starting at each base can move in 8-element
// chunks of 16-byte vectors: the length a multiple of 8 and every base 16-byte aligned (cudaMalloc's
// are; an offset into a buffer may not be). bf16 chunks are one vector, fp32 chunks two.
inline bool chunks_vectorizable(std::int64_t length, std::initializer_list<const void*> bases) {
  if (length % kBf16Vector != 0) return false;
  for (const void* p : bases) {
    if (reinterpret_cast<std::uintptr_t>(p) % sizeof(uint4) != 0) return false;
  }
  return true;
}

// Calls launch(std::integral_constant<int, 8>) when vectorizable, else with 1.
template <class Launch>
void launch_by_chunk(bool vectorizable, Launch&& launch) {
  if (vectorizable) {
    launch(std::integral_constant<int, kBf16Vector>{});
  } else {
    launch(std::integral_constant<int, 1>{});
  }
}

__device__ __forceinline__ __nv_bfloat16 bf16_from_bits(std::uint32_t bits) {
  __nv_bfloat16_raw raw;
  raw.x = static_cast<unsigned short>(bits);
  return raw;
}

__device__ __forceinline__ std::uint32_t bf16_bits(__nv_bfloat16 v) {
  return static_cast<__nv_bfloat16_raw>(v).x;
}

// v[i] = p[i] for i < kVec, as fp32; p is chunk-aligned.
template <int kVec>
__device__ __forceinline__ void load_chunk(const __nv_bfloat16* p, float (&v)[kVec]) {
  if constexpr (kVec == kBf16Vector) {
    const uint4 bits = *reinterpret_cast<const uint4*>(p);
    const std::uint32_t words[kBf16Vector / 2] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
    for (int i = 0; i < kBf16Vector / 2; ++i) {
      v[2 * i] = __bfloat162float(bf16_from_bits(words[i] & 0xffffu));  // the lower address
      v[2 * i + 1] = __bfloat162float(bf16_from_bits(words[i] >> 16));
    }
  } else {
    v[0] = __bfloat162float(*p);
  }
}

// v[i] = p[i] for i < kVec from fp32 (two 16-byte vectors when kVec is 8); p is chunk-aligned.
template <int kVec>
__device__ __forceinline__ void load_chunk(const float* p, float (&v)[kVec]) {
  if constexpr (kVec == kBf16Vector) {
    const float4 low = *reinterpret_cast<const float4*>(p);
    const float4 high = *reinterpret_cast<const float4*>(p + 4);
    const float all[kBf16Vector] = {low.x, low.y, low.z, low.w, high.x, high.y, high.z, high.w};
#pragma unroll
    for (int i = 0; i < kBf16Vector; ++i) v[i] = all[i];
  } else {
    v[0] = *p;
  }
}

// p[i] = v[i] for i < kVec in fp32 (two 16-byte vectors when kVec is 8); p is chunk-aligned.
template <int kVec>
__device__ __forceinline__ void store_chunk(float* p, const float (&v)[kVec]) {
  if constexpr (kVec == kBf16Vector) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(p + 4) = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    *p = v[0];
  }
}

// p[i] = v[i] rounded to bf16 (nearest even), for i < kVec; p is chunk-aligned.
template <int kVec>
__device__ __forceinline__ void store_chunk(__nv_bfloat16* p, const float (&v)[kVec]) {
  if constexpr (kVec == kBf16Vector) {
    std::uint32_t words[kBf16Vector / 2];
#pragma unroll
    for (int i = 0; i < kBf16Vector / 2; ++i) {
      words[i] = bf16_bits(__float2bfloat16(v[2 * i])) | bf16_bits(__float2bfloat16(v[2 * i + 1])) << 16;
    }
    *reinterpret_cast<uint4*>(p) = uint4{words[0], words[1], words[2], words[3]};
  } else {
    *p = __float2bfloat16(v[0]);
  }
}

// One warp copies a row of `hidden` bf16 (src null: writes zeros); lane `lane` of 32. Loads are
// issued kUnroll chunks at a time before their stores, so each lane keeps several in flight.
template <int kVec>
__device__ __forceinline__ void warp_copy_row(__nv_bfloat16* __restrict__ dst, const __nv_bfloat16* __restrict__ src,
                                              int hidden, int lane) {
  constexpr int kUnroll = 4;
  for (int c0 = lane * kVec; c0 < hidden; c0 += kUnroll * kWarpSize * kVec) {
    Bf16Chunk<kVec> chunk[kUnroll] = {};
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * kWarpSize * kVec;
      if (c < hidden) {
        if (src != nullptr) {
          chunk[u] = *reinterpret_cast<const Bf16Chunk<kVec>*>(src + c);
        } else {
          chunk[u] = Bf16Chunk<kVec>{};
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * kWarpSize * kVec;
      if (c < hidden) *reinterpret_cast<Bf16Chunk<kVec>*>(dst + c) = chunk[u];
    }
  }
}

// Grid-stride loop over the chunks of n elements (n a multiple of kVec): calls f(i) with i the
// chunk's first element, once per chunk, each chunk by one thread.
template <int kVec, class F>
__device__ __forceinline__ void for_each_chunk(std::int64_t n, F&& f) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x * kVec;
  for (std::int64_t i = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * kVec; i < n;
       i += stride) {
    f(i);
  }
}

// A block's loop over the chunks of one row of `hidden` elements (a multiple of kVec): calls f(c)
// with c the chunk's first element; thread t takes chunks t, t + kThreads, ... in that order.
template <int kVec, int kThreads, class F>
__device__ __forceinline__ void for_each_row_chunk(int hidden, F&& f) {
  for (int c = static_cast<int>(threadIdx.x) * kVec; c < hidden; c += kThreads * kVec) f(c);
}

}  // namespace ecsim
