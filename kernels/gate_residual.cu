// Gated residual of a DiT block (op `gate_residual`):
//   out[b, s, :] = x[b, s, :] + gate[b, :] * y[b, s, :]
//   x, y, out, dout, dy [B, S, d] bf16; gate, dgate [B, d] bf16; fp32 arithmetic.
// dgate is a column sum over the S rows of each sample, bias_grad's kernels (column_sums.cuh):
// blocks of 32 columns of one sample with 8 row lanes, row chunks through a caller's workspace
// where those are too few for the GPU, every sum in an order fixed by the shape (reproducible
// without atomics). (Until 2026-11-28 one thread walked all S rows of its column: 40 blocks for 8
// samples of d 1152, and the backward over 1024 x 1152 took about 20 us on an H100 against the
// forward's 6.)
// CPU reference: ref/gate_residual.hpp. Test: ctest -R "gated residual" (tests/kernels/
// elementwise_gpu_test.cpp; skipped without a GPU).
// Without a GPU: tests/emulation/elementwise_emulated_test.cpp runs this code under a CPU
// emulation of CUDA (its logic, not the numerics).
#include <string>

#include "bf16_chunks.cuh"
#include "column_sums.cuh"
#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "gate_residual.cuh"
#include "launch.cuh"
#include "launch_check.hpp"
#include "sample_vectors.hpp"

namespace ecsim {
namespace {

constexpr int kThreads = 256;

// A chunk lies in one row (hidden is a multiple of kVec), so its gates are one chunk of gate[b].
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    gate_residual_fwd_kernel(const __nv_bfloat16* x, const __nv_bfloat16* __restrict__ y,
                             const __nv_bfloat16* __restrict__ gate, __nv_bfloat16* out, std::int64_t seq_hidden,
                             int hidden, std::int64_t vector_stride, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    const std::int64_t g = (i / seq_hidden) * vector_stride + i % hidden;  // gate[b, c]
    float xv[kVec], gv[kVec], yv[kVec];
    load_chunk<kVec>(x + i, xv);
    load_chunk<kVec>(gate + g, gv);
    load_chunk<kVec>(y + i, yv);
#pragma unroll
    for (int j = 0; j < kVec; ++j) xv[j] += gv[j] * yv[j];
    store_chunk<kVec>(out + i, xv);
  });
}

template <int kVec>
__global__ void __launch_bounds__(kThreads)
    gate_residual_bwd_dy_kernel(const __nv_bfloat16* __restrict__ gate, const __nv_bfloat16* __restrict__ dout,
                                __nv_bfloat16* __restrict__ dy, std::int64_t seq_hidden, int hidden,
                                std::int64_t vector_stride, std::int64_t n) {
  for_each_chunk<kVec>(n, [&](std::int64_t i) {
    const std::int64_t g = (i / seq_hidden) * vector_stride + i % hidden;
    float gv[kVec], d[kVec];
    load_chunk<kVec>(gate + g, gv);
    load_chunk<kVec>(dout + i, d);
#pragma unroll
    for (int j = 0; j < kVec; ++j) d[j] = gv[j] * d[j];
    store_chunk<kVec>(dy + i, d);
  });
}

// dgate[b, c] = sum over s of dout[b, s, c] y[b, s, c] (column_sums.cuh), bf16 in the
// modulation's rows.
struct DgateTerm {
  const __nv_bfloat16* y;
  const __nv_bfloat16* dout;
  std::int64_t hidden;
  __device__ void operator()(std::int64_t row, std::int64_t c, float (&t)[1]) const {
    t[0] = __bfloat162float(dout[row * hidden + c]) * __bfloat162float(y[row * hidden + c]);
  }
};
struct DgateStore {
  __nv_bfloat16* dgate;
  std::int64_t vector_stride;
  __device__ void operator()(std::int64_t b, std::int64_t c, const float (&total)[1]) const {
    dgate[b * vector_stride + c] = __float2bfloat16(total[0]);
  }
};

void check_shape(std::int64_t batch, std::int64_t seq, std::int64_t hidden, const char* op) {
  require_positive(batch, op, "batch");
  require_positive(seq, op, "seq");
  require_positive(hidden, op, "hidden");
  require_int32(seq, op, "seq");
  require_int32(hidden, op, "hidden");
  require(batch <= 65535, std::string(op) + ": batch " + std::to_string(batch) + " exceeds the grid's y limit 65535");
}

}  // namespace

void gate_residual_fwd(const __nv_bfloat16* x, const __nv_bfloat16* y, const __nv_bfloat16* gate, __nv_bfloat16* out,
                       std::int64_t batch, std::int64_t seq, std::int64_t hidden, cudaStream_t stream,
                       std::int64_t vector_stride) {
  constexpr const char* op = "gate_residual_fwd";
  check_shape(batch, seq, hidden, op);
  require_pointers(op, {{"x", x}, {"y", y}, {"gate", gate}, {"out", out}});
  const std::int64_t vs = sample_vector_stride(vector_stride, hidden, op);
  const std::int64_t n = batch * seq * hidden;
  launch_by_chunk(chunks_vectorizable(hidden, {x, y, gate, out}) && vs % kBf16Vector == 0, [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(gate_residual_fwd_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0,
                             stream, x, y, gate, out, seq * hidden, static_cast<int>(hidden), vs, n));
  });
}

void gate_residual_bwd(const __nv_bfloat16* y, const __nv_bfloat16* gate, const __nv_bfloat16* dout, __nv_bfloat16* dy,
                       __nv_bfloat16* dgate, float* partials, std::int64_t batch, std::int64_t seq,
                       std::int64_t hidden, cudaStream_t stream, std::int64_t vector_stride) {
  constexpr const char* op = "gate_residual_bwd";
  check_shape(batch, seq, hidden, op);
  require_pointers(op,
                   {{"y", y}, {"gate", gate}, {"dout", dout}, {"dy", dy}, {"dgate", dgate}, {"partials", partials}});
  const std::int64_t vs = sample_vector_stride(vector_stride, hidden, op);
  const std::int64_t n = batch * seq * hidden;
  launch_by_chunk(chunks_vectorizable(hidden, {gate, dout, dy}) && vs % kBf16Vector == 0, [&](auto chunk) {
    constexpr int kVec = decltype(chunk)::value;
    CUDA_CHECK(launch_kernel(gate_residual_bwd_dy_kernel<kVec>, elementwise_blocks(n / kVec, kThreads), kThreads, 0,
                             stream, gate, dout, dy, seq * hidden, static_cast<int>(hidden), vs, n));
  });
  column_sums::launch<1>(DgateTerm{y, dout, hidden}, DgateStore{dgate, vs}, partials, batch, seq, hidden, stream);
}

}  // namespace ecsim
