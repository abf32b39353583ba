// Small kernels that test the emulator itself (emulator_test.cpp, kernels in checker_kernels.cpp):
// the warp instructions, static __shared__ variables and the runtime calls the kernel files use, on
// known operands, and kernels that each break one rule the emulation checks, so that every check
// is seen to fail.
#pragma once

#include <cstddef>
#include <vector>

namespace ecsim::emulation_test {

// d = a b for 16x16 matrices (row-major, values exact in bf16), by one warp through cp.async,
// ldmatrix and two mma.sync as attention.cu does: with b stored transposed ([n][k]) and loaded
// plainly (its Q K^T), or stored as is ([k][n]) and loaded with ldmatrix.trans (its P V).
std::vector<float> warp_matrix_product(const std::vector<float>& a, const std::vector<float>& b, bool trans_load);

// Lane l's results, four per lane, of one warp's __shfl_sync(10 l, 5), __shfl_up_sync(10 l, 3),
// __shfl_down_sync(10 l, 3, width 8) and __shfl_xor_sync(10 l, 6).
std::vector<int> warp_shuffles();

// __ballot_sync, __popc with lanes_below, and warp_sum (__reduce_add_sync) over two warps: per thread.
struct WarpVotes {
  std::vector<unsigned> votes;
  std::vector<int> below;
  std::vector<int> sums;
};
WarpVotes warp_votes();

// Per thread of each of two blocks of 96 threads, three __syncthreads_count results in a row: of
// the threads whose index is a multiple of 3, of those above 89, and of none.
std::vector<int> barrier_counts();

// Per block b of `blocks` blocks of 64 threads, thread t holding v = in[64 b + t]: the results of
// block_reduce.cuh's block_exclusive_scan(v), block_exclusive_scan(2 v) and block_sum(v), whose
// partials live in static __shared__ arrays, one copy per block. Each vector holds one value per
// thread ([blocks, 64]).
struct BlockReductions {
  std::vector<int> scan, total;              // block_exclusive_scan(v) and its total
  std::vector<int> scan_twice, total_twice;  // block_exclusive_scan(2 v), the arrays reused
  std::vector<float> sum;                    // block_sum(v)
};
BlockReductions block_reductions(const std::vector<int>& in, int blocks);

// __float_as_uint(v[i]), and __uint_as_float of that (which must give v[i] back, bit for bit).
struct FloatBits {
  std::vector<unsigned> bits;
  std::vector<float> back;
};
FloatBits float_bits(const std::vector<float>& v);

// An 8-byte buffer of 0x11 bytes after cudaMemsetAsync(buffer, value, count).
std::vector<unsigned char> memset_async(int value, std::size_t count);

enum class Bug {
  none,                    // the kernel the others break, which must pass
  read_after_write,        // reads a neighbour's shared write with no barrier between
  write_after_read,        // overwrites shared memory a neighbour read, with no barrier between
  write_after_write,       // two threads write one shared word
  read_before_copy_lands,  // reads a cp.async destination before cp.async.wait_group
  static_race,             // reads a neighbour's write to a static __shared__ array, no barrier between
  static_stale_read,       // block 1 reads a static __shared__ array only block 0 wrote
  shared_past_end,         // writes one word past the dynamic shared memory
  ldmatrix_past_end,       // ldmatrix rows past the dynamic shared memory
  unwritten_read,          // reads shared memory no thread wrote
  barrier_after_exit,      // half the block exits, the rest reach __syncthreads
  barrier_never_complete,  // half the block waits at __syncthreads, the rest exit
  shuffle_after_exit,      // half of each warp exits, the rest shuffle
  too_much_shared,         // launches with 64 KiB of shared memory without allowing it
  global_past_end,         // writes one int past a global buffer (caught in the sanitizer build)
  misaligned_vector_read,  // reads a uint4 that starts 8 bytes past a 16-byte boundary
  blocks_write_one_word,   // two blocks write the same global int (a scatter without atomics)
  block_reads_others_write,  // block 1 reads a global int block 0 wrote in the same launch
  block_overwrites_read,     // block 1 writes a global int block 0 read in the same launch
  threads_write_one_global_word,  // two threads of one block write one global int, no barrier between
  global_read_after_write,        // reads a neighbour's global write with no barrier between
};

// Runs one block of 64 threads with `bug` (two blocks for none, static_stale_read and the bugs
// between blocks); the emulation throws EmulationError when it finds it.
void run_buggy_kernel(Bug bug);

}  // namespace ecsim::emulation_test
