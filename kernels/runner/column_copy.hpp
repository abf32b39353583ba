// Column blocks of a row-major matrix, copied with cudaMemcpy2DAsync: the fused projections' outputs
// (qkv [T, (H + 2 KVH) D], kv [B L, 2 KVH D], the adaLN modulation [B, n d]) hold several tensors side by
// side, and the attention and norm kernels read each one contiguous. The backward copies the
// gradients back into the fused layout. A strided copy at HBM speed: no kernel of its own.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda_check.hpp"

namespace ecsim::runner {

// dst[r, dst_first + i] = src[r, src_first + i] for r < rows, i < width; src [rows, src_stride],
// dst [rows, dst_stride], bf16.
inline void copy_columns(const __nv_bfloat16* src, std::int64_t src_stride, std::int64_t src_first, __nv_bfloat16* dst,
                         std::int64_t dst_stride, std::int64_t dst_first, std::int64_t width, std::int64_t rows,
                         cudaStream_t stream) {
  constexpr std::size_t kElem = sizeof(__nv_bfloat16);
  CUDA_CHECK(cudaMemcpy2DAsync(dst + dst_first, static_cast<std::size_t>(dst_stride) * kElem, src + src_first,
                               static_cast<std::size_t>(src_stride) * kElem, static_cast<std::size_t>(width) * kElem,
                               static_cast<std::size_t>(rows), cudaMemcpyDeviceToDevice, stream));
}

}  // namespace ecsim::runner
