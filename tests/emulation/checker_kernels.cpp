// The kernels of checker_kernels.hpp, compiled like attention_emulated.cpp (instrumented, through
// launch.cuh and mma_sm80.cuh) so that they reach the emulator the way the real kernels do.

// The emulation's CUDA built-ins come before any CUDA header, as nvcc's own do.
#include "emulation/cuda_emulation.hpp"

// The kernels' declarations and what they use.
#include <cstdint>
#include <vector>

#include "block_reduce.cuh"
#include "cuda_check.hpp"
#include "emulation/checker_kernels.hpp"
#include "launch.cuh"
#include "mma_sm80.cuh"

namespace ecsim::emulation_test {
namespace {

constexpr int kStride = 16 + 8;  // bf16 per shared row, padded as attention.cu pads its tiles
constexpr int kBuggyThreads = 64;
constexpr int kReductionThreads = 64;
constexpr int kBuggySharedBytes = 1024;

// One warp: d[16, 16] = a[16, 16] b[16, 16]; `b` holds B^T ([n][k]) unless trans_load.
__global__ void warp_matrix_product_kernel(const __nv_bfloat16* a, const __nv_bfloat16* b, float* d, bool trans_load) {
  __nv_bfloat16* s_a = reinterpret_cast<__nv_bfloat16*>(dynamic_shared_memory());  // [16, kStride]
  __nv_bfloat16* s_b = s_a + 16 * kStride;                                         // [16, kStride]
  const int lane = static_cast<int>(threadIdx.x);
  const int row = lane / 2;
  const int col = lane % 2 * 8;
  copy_16_async(s_a + row * kStride + col, a + row * 16 + col, true);
  copy_16_async(s_b + row * kStride + col, b + row * 16 + col, true);
  commit_async_copies();
  wait_async_copies<0>();
  __syncthreads();
  float acc[2][4] = {};  // columns 0-7 and 8-15 of d
  std::uint32_t af[4];
  std::uint32_t bf[4];
  load_block_16x16<kStride>(af, s_a, lane);
  if (trans_load) {
    load_block_16x16_transposed<kStride>(bf, s_b, lane);
    mma_16x8x16(acc[0], af, bf[0], bf[1]);
    mma_16x8x16(acc[1], af, bf[2], bf[3]);
  } else {
    load_block_16x16<kStride>(bf, s_b, lane);
    mma_16x8x16(acc[0], af, bf[0], bf[2]);
    mma_16x8x16(acc[1], af, bf[1], bf[3]);
  }
  const int g = lane / 4;
  const int t = lane % 4;
  for (int n = 0; n < 2; ++n) {
    for (int i = 0; i < 4; ++i) d[(g + 8 * (i / 2)) * 16 + n * 8 + 2 * t + i % 2] = acc[n][i];
  }
}

// Block b, thread t: v = in[64 b + t]; every output [blocks, 64].
__global__ void block_reductions_kernel(const int* in, int* scan, int* total, int* scan_twice, int* total_twice,
                                        float* sum) {
  const int i = static_cast<int>(blockIdx.x * kReductionThreads + threadIdx.x);
  const int v = in[i];
  scan[i] = block_exclusive_scan<kReductionThreads>(v, total[i]);
  scan_twice[i] = block_exclusive_scan<kReductionThreads>(2 * v, total_twice[i]);
  sum[i] = block_sum<kReductionThreads>(static_cast<float>(v));
}

__global__ void float_bits_kernel(const float* in, unsigned* bits, float* back, int n) {
  const int i = static_cast<int>(threadIdx.x);
  if (i >= n) return;
  bits[i] = __float_as_uint(in[i]);
  back[i] = __uint_as_float(bits[i]);
}

__global__ void warp_shuffles_kernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x);
  out[4 * lane] = __shfl_sync(kFullMask, 10 * lane, 5);
  out[4 * lane + 1] = __shfl_up_sync(kFullMask, 10 * lane, 3);
  out[4 * lane + 2] = __shfl_down_sync(kFullMask, 10 * lane, 3, 8);
  out[4 * lane + 3] = __shfl_xor_sync(kFullMask, 10 * lane, 6);
}

// Two warps: a ballot of the lanes whose index is a multiple of 3, a count of those below each
// lane (lanes_below), and the warp's sum of 10 * lane + warp.
__global__ void warp_votes_kernel(unsigned* votes, int* below, int* sums) {
  const int t = static_cast<int>(threadIdx.x);
  const int lane = t % kWarpSize;
  votes[t] = __ballot_sync(kFullMask, lane % 3 == 0);
  below[t] = __popc(votes[t] & lanes_below());
  sums[t] = warp_sum(10 * lane + t / kWarpSize);
}

// Three barriers with a vote count in a row, the second block's predicates shifted by one thread.
__global__ void barrier_counts_kernel(int* counts) {
  const int t = static_cast<int>(threadIdx.x) + static_cast<int>(blockIdx.x);
  int* mine = counts + 3 * (blockIdx.x * blockDim.x + threadIdx.x);
  mine[0] = __syncthreads_count(t % 3 == 0);
  mine[1] = __syncthreads_count(t > 89);
  mine[2] = __syncthreads_count(0);
}

// A whole uint4 copied from `from` to `to`, as the kernels copy rows (a field read alone would be a
// 4-byte load). UBSan's own alignment check (sanitizer build) is off here, so that the emulation's
// is the one seen to fail.
__device__ __attribute__((no_sanitize("alignment"))) void copy_uint4(int* to, const int* from) {
  *reinterpret_cast<uint4*>(to) = *reinterpret_cast<const uint4*>(from);
}

// `in` and `out` hold 4 ints per thread of a block.
__global__ void buggy_kernel(Bug bug, const int* in, int* out) {
  unsigned char* shared = dynamic_shared_memory();
  int* s = reinterpret_cast<int*>(shared);  // [kBuggySharedBytes / 4]
  __shared__ int statics[kBuggyThreads];
  const int t = static_cast<int>(threadIdx.x);
  switch (bug) {
    case Bug::none: {  // two blocks, each writing its own half of `out`
      s[t] = t;
      __syncthreads();
      int* mine = out + 2 * kBuggyThreads * static_cast<int>(blockIdx.x);
      mine[t] = s[(t + 1) % kBuggyThreads];
      __syncthreads();
      mine[kBuggyThreads + t] = mine[(t + 1) % kBuggyThreads];  // a neighbour's global write, past a barrier
      break;
    }
    case Bug::read_after_write:
      s[t] = t;
      out[t] = t > 0 ? s[t - 1] : 0;
      break;
    case Bug::write_after_read:
      s[t] = t;
      __syncthreads();
      out[t] = s[(t + 1) % kBuggyThreads];
      s[t] = 0;
      break;
    case Bug::write_after_write:
      s[0] = t;
      break;
    case Bug::read_before_copy_lands:
      copy_16_async(s + 4 * t, in + 4 * t, true);
      commit_async_copies();
      out[t] = s[4 * t];
      wait_async_copies<0>();
      break;
    case Bug::static_race:
      statics[t] = t;
      out[t] = t > 0 ? statics[t - 1] : 0;
      break;
    case Bug::static_stale_read:
      if (blockIdx.x == 0) statics[t] = t;
      __syncthreads();
      out[t] = statics[t];
      break;
    case Bug::shared_past_end:
      s[kBuggySharedBytes / 4 + t] = t;
      break;
    case Bug::ldmatrix_past_end: {
      for (int i = t; i < kBuggySharedBytes / 4; i += kBuggyThreads) s[i] = 0;
      __syncthreads();
      std::uint32_t r[4];
      const __nv_bfloat16* tile = reinterpret_cast<const __nv_bfloat16*>(shared + kBuggySharedBytes) - 8 * kStride;
      load_block_16x16<kStride>(r, tile, t % kWarpSize);  // rows 8-15 lie past the end
      out[t] = static_cast<int>(r[0]);
      break;
    }
    case Bug::unwritten_read:
      out[t] = s[t];
      break;
    case Bug::barrier_after_exit:
      if (t < kBuggyThreads / 2) return;
      __syncthreads();
      break;
    case Bug::barrier_never_complete:
      if (t >= kBuggyThreads / 2) return;
      __syncthreads();
      break;
    case Bug::shuffle_after_exit:
      if (t % kWarpSize >= kWarpSize / 2) return;
      out[t] = __shfl_xor_sync(kFullMask, t, 1);
      break;
    case Bug::too_much_shared:
      break;
    case Bug::threads_write_one_global_word:
      if (t < 2) out[0] = t;
      break;
    case Bug::global_read_after_write:
      out[t] = t;
      out[kBuggyThreads + t] = t > 0 ? out[t - 1] : 0;
      break;
    case Bug::global_past_end:
      out[3 * kBuggyThreads + t + 1] = t;
      break;
    case Bug::blocks_write_one_word:
      if (t == 0) out[0] = static_cast<int>(blockIdx.x);
      break;
    case Bug::block_reads_others_write:
      if (blockIdx.x == 0) out[t] = t;
      if (blockIdx.x == 1) out[kBuggyThreads + t] = out[t];
      break;
    case Bug::block_overwrites_read:
      if (blockIdx.x == 0) out[kBuggyThreads + t] = in[t];
      if (blockIdx.x == 1) const_cast<int*>(in)[t] = t;
      break;
    case Bug::misaligned_vector_read:
      if (t < kBuggyThreads / 4) copy_uint4(out + 4 * t, in + 4 * t + 2);
      break;
  }
}

std::vector<__nv_bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16(v[i]);
  return out;
}

}  // namespace

std::vector<float> warp_matrix_product(const std::vector<float>& a, const std::vector<float>& b, bool trans_load) {
  std::vector<float> stored_b = b;  // [k][n], or [n][k] for the plain load
  if (!trans_load) {
    for (int k = 0; k < 16; ++k) {
      for (int n = 0; n < 16; ++n)
        stored_b[static_cast<std::size_t>(n * 16 + k)] = b[static_cast<std::size_t>(k * 16 + n)];
    }
  }
  const auto a16 = to_bf16(a);
  const auto b16 = to_bf16(stored_b);
  std::vector<float> d(16 * 16);
  CUDA_CHECK(launch_kernel(warp_matrix_product_kernel, 1, kWarpSize, 2 * 16 * kStride * 2, nullptr, a16.data(),
                           b16.data(), d.data(), trans_load));
  return d;
}

std::vector<int> warp_shuffles() {
  std::vector<int> out(4 * kWarpSize);
  CUDA_CHECK(launch_kernel(warp_shuffles_kernel, 1, kWarpSize, 0, nullptr, out.data()));
  return out;
}

WarpVotes warp_votes() {
  WarpVotes v{std::vector<unsigned>(2 * kWarpSize), std::vector<int>(2 * kWarpSize), std::vector<int>(2 * kWarpSize)};
  CUDA_CHECK(launch_kernel(warp_votes_kernel, 1, 2 * kWarpSize, 0, nullptr, v.votes.data(), v.below.data(),
                           v.sums.data()));
  return v;
}

std::vector<int> barrier_counts() {
  constexpr int kThreads = 96;
  std::vector<int> counts(2 * 3 * kThreads);
  CUDA_CHECK(launch_kernel(barrier_counts_kernel, 2, kThreads, 0, nullptr, counts.data()));
  return counts;
}

BlockReductions block_reductions(const std::vector<int>& in, int blocks) {
  const auto n = static_cast<std::size_t>(blocks * kReductionThreads);
  BlockReductions r{std::vector<int>(n), std::vector<int>(n), std::vector<int>(n), std::vector<int>(n),
                    std::vector<float>(n)};
  CUDA_CHECK(launch_kernel(block_reductions_kernel, static_cast<unsigned>(blocks), kReductionThreads, 0, nullptr,
                           in.data(), r.scan.data(), r.total.data(), r.scan_twice.data(), r.total_twice.data(),
                           r.sum.data()));
  return r;
}

FloatBits float_bits(const std::vector<float>& v) {
  FloatBits r{std::vector<unsigned>(v.size()), std::vector<float>(v.size())};
  CUDA_CHECK(launch_kernel(float_bits_kernel, 1, kWarpSize, 0, nullptr, v.data(), r.bits.data(), r.back.data(),
                           static_cast<int>(v.size())));
  return r;
}

std::vector<unsigned char> memset_async(int value, std::size_t count) {
  std::vector<unsigned char> buffer(8, 0x11);
  CUDA_CHECK(cudaMemsetAsync(buffer.data(), value, count, nullptr));
  return buffer;
}

void run_buggy_kernel(Bug bug) {
  std::vector<int> in(4 * kBuggyThreads, 7);
  std::vector<int> out(4 * kBuggyThreads);
  const int shared_bytes = bug == Bug::too_much_shared ? 64 * 1024 : kBuggySharedBytes;
  const bool two_blocks = bug == Bug::none || bug == Bug::static_stale_read || bug == Bug::blocks_write_one_word ||
                          bug == Bug::block_reads_others_write || bug == Bug::block_overwrites_read;
  const unsigned blocks = two_blocks ? 2 : 1;
  CUDA_CHECK(launch_kernel(buggy_kernel, blocks, kBuggyThreads, shared_bytes, nullptr, bug, in.data(), out.data()));
}

}  // namespace ecsim::emulation_test
