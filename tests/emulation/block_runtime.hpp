// Internals of the emulator that its .cpp files share (README.md): the running block's threads and
// warps, how a thread waits for its warp or block, and how a failed check leaves the block.
// Kernel code never includes this; it sees cuda_emulation.hpp and mma_sm80_emulated.hpp.
#pragma once

#include <ucontext.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "emulation/cuda_emulation.hpp"

namespace ecsim::emulation::detail {

class SharedMemoryChecker;

constexpr int kWarpLanes = 32;

enum class WarpOp { shuffle, ldmatrix, ldmatrix_trans, mma };
const char* warp_op_name(WarpOp op);

// One lane's operands and results of the warp instruction in progress.
struct LaneSlot {
  ShuffleMode mode{};
  unsigned mask = 0;
  int operand = 0;
  int width = 0;
  const unsigned char* row = nullptr;  // ldmatrix: the row this lane addresses
  std::uint32_t in[6] = {};            // shuffle: in[0]; mma: a[0..3], b0, b1
  float accumulator[4] = {};           // mma: c, then d
  std::uint32_t out[4] = {};           // shuffle: out[0]; ldmatrix: the four registers
};

struct Warp {
  int lanes = 0;  // threads in this warp: 32, fewer in a partial last warp
  int arrived = 0;
  WarpOp op{};
  std::array<LaneSlot, kWarpLanes> slots{};
};

// A cp.async in flight: 16 bytes to `shared`, of which src_bytes come from `global`, the rest zeros.
struct AsyncCopy {
  unsigned char* shared;
  const unsigned char* global;
  int src_bytes;
  std::uintptr_t pc;
};

enum class ThreadState { runnable, at_barrier, at_warp_op, exited };

struct Thread {
  ucontext_t context{};
  uint3 index{};
  int id = 0;  // linear index in the block; warps are ids 32w .. 32w + 31
  ThreadState state = ThreadState::runnable;
  unsigned char* stack = nullptr;
  std::size_t stack_bytes = 0;
  std::vector<AsyncCopy> uncommitted;
  std::deque<std::vector<AsyncCopy>> committed;  // commit groups in flight, oldest first

  int warp() const { return id / kWarpLanes; }
  int lane() const { return id % kWarpLanes; }
};

// The CUDA thread running now; null outside a kernel (on the launching thread's own stack).
extern Thread* running_thread;

Warp& warp_of(const Thread& t);
SharedMemoryChecker& shared_checker();

// Ends the running block with `what` as its failure: the launch throws it as an EmulationError.
// Outside a kernel it throws at once. A failed block's threads never resume, so nothing on their
// stacks may own memory by then (it would leak): build `what` in a statement of its own, as a named
// local, and move it here; the temporaries of the full-expression that calls fail() are never
// destroyed.
[[noreturn]] void fail(std::string&& what);

// The running thread has filled its slot of `op`; it waits until every lane of its warp has, then
// the last lane to arrive runs `execute` over all slots (the instruction itself).
void arrive_at_warp_op(WarpOp op, void (*execute)(Warp&));

// Lands a group of the thread's cp.async copies (cp.async.wait_group, or the thread's exit).
void land_copies(Thread& t, std::vector<AsyncCopy>& group);

std::string describe_dim(const dim3& d);       // "(2,0,1)", a block index or a launch's grid
std::string describe_address(const void* p);  // "0x7f3a12345678"
std::string describe_thread(int id);           // "thread 37 (warp 1, lane 5)"
std::string describe_code(std::uintptr_t pc);  // "module+0x1a2b", for addr2line -Cfie module 0x1a2b

}  // namespace ecsim::emulation::detail
