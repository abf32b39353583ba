// LayerNorm without affine parameters fused with the adaLN modulation (op `adaln_layernorm`):
//   y[b, s, :] = (x[b, s, :] - mean) * rstd * (1 + scale[b, :]) + shift[b, :]
//   x, y, dy, dx [B, S, d] bf16; shift, scale, dshift, dscale [B, d] bf16; mean, rstd [B, S] fp32.
// bf16 storage, fp32 arithmetic. The forward takes one block per row and reads the row three times
// (mean, variance about the mean, output): two passes keep the variance free of the cancellation
// that E[x^2] - mean^2 suffers, and the re-reads hit L1/L2 at these row widths (d <= a few
// thousand). The backward splits into a row kernel (dx) and column kernels (dshift, dscale), each
// a fixed-order sum, so the result does not depend on scheduling. The row kernel adds the
// gradient that reaches x along the residual path (dresidual) before it rounds dx once: the block's
// two gradient paths meet there without a separate add. The column sums are bias_grad's kernels
// (column_sums.cuh): blocks of 32 columns of one sample with 8 row lanes, and where those are too
// few for the GPU, row chunks whose sums a second kernel adds in order. (Until 2026-11-28 one
// thread walked all S rows of its column: 40 blocks for 8 samples of d 1152, and the backward of
// 1024 x 1152 took 26.8 us on an H100 against the forward's 8.9.) A plain LayerNorm (the
// cross-attention's, zero shift and scale) asks for no dshift and dscale: the column pass is skipped.
// CPU reference: ref/adaln_layernorm.hpp. Test: ctest -R "adaln layernorm" (tests/kernels/
// adaln_layernorm_gpu_test.cpp; skipped without a GPU).
// Without a GPU: tests/emulation/adaln_layernorm_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include <string>

#include "adaln_layernorm.cuh"
#include "bf16_chunks.cuh"
#include "block_reduce.cuh"
#include "column_sums.cuh"
#include "cuda_check.hpp"
#include "launch.cuh"
#include "launch_check.hpp"
#include "sample_vectors.hpp"

namespace ecsim {
namespace {

constexpr int kRowThreads = 256;

// One block per row [d]; blockIdx.x = b * S + s.
template <int kVec>
__global__ void __launch_bounds__(kRowThreads)
    adaln_layernorm_fwd_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ shift,
                               const __nv_bfloat16* __restrict__ scale, __nv_bfloat16* __restrict__ y,
                               float* __restrict__ mean_out, float* __restrict__ rstd_out, int seq, int hidden,
                               std::int64_t vector_stride, float eps) {
  const std::int64_t row = blockIdx.x;
  const std::int64_t b = row / seq;
  const __nv_bfloat16* xr = x + row * hidden;  // [d]
  float sum = 0;
  for_each_row_chunk<kVec, kRowThreads>(hidden, [&](int c) {
    float v[kVec];
    load_chunk<kVec>(xr + c, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j) sum += v[j];
  });
  const float mean = block_sum<kRowThreads>(sum) / static_cast<float>(hidden);
  float squares = 0;
  for_each_row_chunk<kVec, kRowThreads>(hidden, [&](int c) {
    float v[kVec];
    load_chunk<kVec>(xr + c, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float centered = v[j] - mean;
      squares += centered * centered;
    }
  });
  const float rstd = rsqrtf(block_sum<kRowThreads>(squares) / static_cast<float>(hidden) + eps);
  const __nv_bfloat16* sh = shift + b * vector_stride;  // [d]
  const __nv_bfloat16* sc = scale + b * vector_stride;  // [d]
  for_each_row_chunk<kVec, kRowThreads>(hidden, [&](int c) {
    float v[kVec], scv[kVec], shv[kVec];
    load_chunk<kVec>(xr + c, v);
    load_chunk<kVec>(sc + c, scv);
    load_chunk<kVec>(sh + c, shv);
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = (v[j] - mean) * rstd * (1.0f + scv[j]) + shv[j];
    store_chunk<kVec>(y + row * hidden + c, v);
  });
  if (threadIdx.x == 0) {
    mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
}

// One block per row: dx = dresidual + rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * (1 + scale);
// dresidual null: none. dresidual and dx may be the same array (each element is read, then written,
// by one thread), so neither is __restrict__.
template <int kVec>
__global__ void __launch_bounds__(kRowThreads)
    adaln_layernorm_bwd_dx_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ scale,
                                  const float* __restrict__ mean, const float* __restrict__ rstd,
                                  const __nv_bfloat16* __restrict__ dy, const __nv_bfloat16* dresidual,
                                  __nv_bfloat16* dx, int seq, int hidden, std::int64_t vector_stride) {
  const std::int64_t row = blockIdx.x;
  const std::int64_t b = row / seq;
  const float mu = mean[row];
  const float r = rstd[row];
  const __nv_bfloat16* sc = scale + b * vector_stride;  // [d]
  const __nv_bfloat16* xr = x + row * hidden;           // [d]
  const __nv_bfloat16* dyr = dy + row * hidden;  // [d]
  // g and xhat of one chunk.
  auto chunk_terms = [&](int c, float (&g)[kVec], float (&xhat)[kVec]) {
    float scv[kVec];
    load_chunk<kVec>(dyr + c, g);
    load_chunk<kVec>(sc + c, scv);
    load_chunk<kVec>(xr + c, xhat);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      g[j] *= 1.0f + scv[j];
      xhat[j] = (xhat[j] - mu) * r;
    }
  };
  float sum_g = 0, sum_gx = 0;
  for_each_row_chunk<kVec, kRowThreads>(hidden, [&](int c) {
    float g[kVec], xhat[kVec];
    chunk_terms(c, g, xhat);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      sum_g += g[j];
      sum_gx += g[j] * xhat[j];
    }
  });
  const float mean_g = block_sum<kRowThreads>(sum_g) / static_cast<float>(hidden);
  const float mean_gx = block_sum<kRowThreads>(sum_gx) / static_cast<float>(hidden);
  for_each_row_chunk<kVec, kRowThreads>(hidden, [&](int c) {
    float g[kVec], xhat[kVec];
    chunk_terms(c, g, xhat);
#pragma unroll
    for (int j = 0; j < kVec; ++j) g[j] = r * (g[j] - mean_g - xhat[j] * mean_gx);
    if (dresidual != nullptr) {
      float res[kVec];
      load_chunk<kVec>(dresidual + row * hidden + c, res);
#pragma unroll
      for (int j = 0; j < kVec; ++j) g[j] += res[j];
    }
    store_chunk<kVec>(dx + row * hidden + c, g);
  });
}

// dshift[b, c] = sum over s of dy[b, s, c], dscale[b, c] = sum of dy[b, s, c] xhat[b, s, c]
// (column_sums.cuh), written bf16 in the modulation's rows.
struct ModulationTerm {
  const __nv_bfloat16* x;
  const float* mean;
  const float* rstd;
  const __nv_bfloat16* dy;
  std::int64_t hidden;
  __device__ void operator()(std::int64_t row, std::int64_t c, float (&t)[2]) const {
    const float g = __bfloat162float(dy[row * hidden + c]);
    t[0] = g;
    t[1] = g * (__bfloat162float(x[row * hidden + c]) - mean[row]) * rstd[row];
  }
};
struct ModulationStore {
  __nv_bfloat16* dshift;
  __nv_bfloat16* dscale;
  std::int64_t vector_stride;
  __device__ void operator()(std::int64_t b, std::int64_t c, const float (&total)[2]) const {
    dshift[b * vector_stride + c] = __float2bfloat16(total[0]);
    dscale[b * vector_stride + c] = __float2bfloat16(total[1]);
  }
};

void check_shape(std::int64_t batch, std::int64_t seq, std::int64_t hidden, const char* op) {
  require_positive(batch, op, "batch");
  require_positive(seq, op, "seq");
  require_positive(hidden, op, "hidden");
  require_int32(batch * seq, op, "rows (batch * seq)");
  require_int32(hidden, op, "hidden");
  require(batch <= 65535, std::string(op) + ": batch " + std::to_string(batch) + " exceeds the grid's y limit 65535");
}

}  // namespace

void adaln_layernorm_fwd(const __nv_bfloat16* x, const __nv_bfloat16* shift, const __nv_bfloat16* scale,
                         __nv_bfloat16* y, float* mean, float* rstd, std::int64_t batch, std::int64_t seq,
                         std::int64_t hidden, float eps, cudaStream_t stream, std::int64_t vector_stride) {
  constexpr const char* op = "adaln_layernorm_fwd";
  check_shape(batch, seq, hidden, op);
  require(eps > 0, std::string(op) + ": eps must be positive");
  require_pointers(op, {{"x", x}, {"shift", shift}, {"scale", scale}, {"y", y}, {"mean", mean}, {"rstd", rstd}});
  const std::int64_t vs = sample_vector_stride(vector_stride, hidden, op);
  launch_by_chunk(chunks_vectorizable(hidden, {x, shift, scale, y}) && vs % kBf16Vector == 0, [&](auto chunk) {
    CUDA_CHECK(launch_kernel(adaln_layernorm_fwd_kernel<decltype(chunk)::value>, static_cast<unsigned>(batch * seq),
                             kRowThreads, 0, stream, x, shift, scale, y, mean, rstd, static_cast<int>(seq),
                             static_cast<int>(hidden), vs, eps));
  });
}

void adaln_layernorm_bwd(const __nv_bfloat16* x, const __nv_bfloat16* scale, const float* mean, const float* rstd,
                         const __nv_bfloat16* dy, const __nv_bfloat16* dresidual, __nv_bfloat16* dx,
                         __nv_bfloat16* dshift, __nv_bfloat16* dscale, float* partials, std::int64_t batch,
                         std::int64_t seq, std::int64_t hidden, cudaStream_t stream, std::int64_t vector_stride) {
  constexpr const char* op = "adaln_layernorm_bwd";
  check_shape(batch, seq, hidden, op);
  require_pointers(op, {{"x", x}, {"scale", scale}, {"mean", mean}, {"rstd", rstd}, {"dy", dy}, {"dx", dx}});
  const bool modulated = dshift != nullptr || dscale != nullptr;
  if (modulated) require_pointers(op, {{"dshift", dshift}, {"dscale", dscale}, {"partials", partials}});
  const std::int64_t vs = sample_vector_stride(vector_stride, hidden, op);
  launch_by_chunk(chunks_vectorizable(hidden, {x, scale, dy, dresidual, dx}) && vs % kBf16Vector == 0, [&](auto chunk) {
    CUDA_CHECK(launch_kernel(adaln_layernorm_bwd_dx_kernel<decltype(chunk)::value>, static_cast<unsigned>(batch * seq),
                             kRowThreads, 0, stream, x, scale, mean, rstd, dy, dresidual, dx,
                             static_cast<int>(seq), static_cast<int>(hidden), vs));
  });
  if (!modulated) return;
  column_sums::launch<2>(ModulationTerm{x, mean, rstd, dy, hidden}, ModulationStore{dshift, dscale, vs}, partials,
                         batch, seq, hidden, stream);
}

}  // namespace ecsim
