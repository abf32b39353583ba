// Small kernels that test the emulator itself (emulator_test.cpp, kernels in checker_kernels.cpp):
// the warp instructions on known operands, and kernels that each break one rule the emulation
// checks, so that every check is seen to fail.
#pragma once

#include <vector>

namespace ecsim::emulation_test {

// d = a b for 16x16 matrices (row-major, values exact in bf16), by one warp through cp.async,
// ldmatrix and two mma.sync as attention.cu does: with b stored transposed ([n][k]) and loaded
// plainly (its Q K^T), or stored as is ([k][n]) and loaded with ldmatrix.trans (its P V).
std::vector<float> warp_matrix_product(const std::vector<float>& a, const std::vector<float>& b, bool trans_load);

// Lane l's results, four per lane, of one warp's __shfl_sync(10 l, 5), __shfl_up_sync(10 l, 3),
// __shfl_down_sync(10 l, 3, width 8) and __shfl_xor_sync(10 l, 6).
std::vector<int> warp_shuffles();

enum class Bug {
  none,                    // the kernel the others break, which must pass
  read_after_write,        // reads a neighbour's shared write with no barrier between
  write_after_read,        // overwrites shared memory a neighbour read, with no barrier between
  write_after_write,       // two threads write one shared word
  read_before_copy_lands,  // reads a cp.async destination before cp.async.wait_group
  shared_past_end,         // writes one word past the dynamic shared memory
  ldmatrix_past_end,       // ldmatrix rows past the dynamic shared memory
  unwritten_read,          // reads shared memory no thread wrote
  barrier_after_exit,      // half the block exits, the rest reach __syncthreads
  barrier_never_complete,  // half the block waits at __syncthreads, the rest exit
  shuffle_after_exit,      // half of each warp exits, the rest shuffle
  too_much_shared,         // launches with 64 KiB of shared memory without allowing it
  global_past_end,         // writes one int past a global buffer (caught in the sanitizer build)
};

// Runs one block of 64 threads with `bug`; the emulation throws EmulationError when it finds it.
void run_buggy_kernel(Bug bug);

}  // namespace ecsim::emulation_test
