// The checker of a block's shared memory (README.md): its dynamic shared memory and every static
// __shared__ variable (cuda_emulation.hpp makes those thread_local, so they lie in the launching
// thread's thread-local block of the program, which the checker watches). It keeps, per byte, the
// last writer and the readers since the last __syncthreads, and fails the block (block_runtime.hpp,
// fail) on
//   - a race: two threads touch a byte between the same two barriers, at least one of them writing
//     (read after write, write after read, write after write). Lanes of one warp race too: the
//     emulation has no __syncwarp, and nothing else orders their accesses in CUDA's memory model;
//   - a cp.async in flight: any access, by any thread, to bytes an issued copy has not landed yet
//     (the copy may land at any moment until its cp.async.wait_group);
//   - a read of a byte no thread of the block has written (shared memory starts undefined, static
//     __shared__ variables included: each block gets fresh ones);
//   - an access outside [0, shared_bytes) of the dynamic shared memory, recognised up to
//     kGuardBytes beyond either end. Static variables have no bounds of their own here: an index
//     past one lands in another (checked as that one) or outside the thread-local block (not
//     checked).
// Kernel files are compiled with GCC's ThreadSanitizer instrumentation (CMakeLists.txt), which
// calls a __tsan_read/__tsan_write hook before every load and store; the hooks (in the .cpp) pass
// those that fall on shared memory to this checker, so plain C++ accesses are checked as well as
// cp.async and ldmatrix. Every other address a kernel touches, off the thread's own stack, is
// global memory: the hooks pass it to the global-memory checker (global_memory_checker.hpp), and in
// the sanitizer build ask ASan first whether it is addressable. The hooks also check that an access
// the compiler took as aligned to its size is (a GPU stops on a misaligned one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ecsim::emulation::detail {

class SharedMemoryChecker {
 public:
  static constexpr std::size_t kGuardBytes = 64 * 1024;

  // A launch with `bytes` of dynamic shared memory per block: forgets every earlier launch.
  void begin_launch(std::size_t bytes);
  // A new block whose dynamic shared memory is at `base`, with kGuardBytes of the same allocation
  // before and after it that no access may touch. Static __shared__ variables start over too:
  // written by no thread of the block, whatever an earlier block left in them.
  void begin_block(unsigned char* base);
  void end_block() { base_ = nullptr; }
  void barrier() { ++interval_; }  // every thread of the block passed __syncthreads

  // Whether `p` lies in the running block's shared memory (dynamic, with its guards, or static).
  bool watches(const void* p) const {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    return base_ != nullptr && (address - window_begin_ < window_bytes_ || address - static_begin_ < static_bytes_);
  }

  void read(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  void write(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  // A cp.async: its write may happen at any moment from issue to landing (cp.async.wait_group).
  void issue_async_write(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  void land_async_write(int thread, const void* p, std::size_t n);

  // Bytes [offset, offset + n) of the checker's state, for a report: "dynamic shared bytes [a, b)",
  // or "n bytes of a static __shared__ variable at module+offset".
  std::string describe_bytes(std::size_t offset, std::size_t n) const;

 private:
  static constexpr std::int16_t kNobody = -1;

  // What happened to one byte. Intervals number the stretches between barriers across all blocks
  // of a launch: `interval_` is the current one, `first_interval_` the running block's first.
  struct Byte {
    std::uint32_t written = 0;  // interval of the last write
    std::uint32_t read = 0;     // interval of the reads below
    std::uintptr_t write_pc = 0;
    std::uintptr_t read_pc = 0;        // first_reader's
    std::uintptr_t other_read_pc = 0;  // other_reader's
    std::int16_t writer = kNobody;
    std::int16_t first_reader = kNobody;  // in interval `read`
    std::int16_t other_reader = kNobody;  // any other reader in interval `read`
    std::int16_t copier = kNobody;        // whose cp.async to this byte is in flight
  };

  // The index in state_ of [p, p + n): dynamic shared memory first, then the thread-local block.
  // Fails the block when it is outside both.
  std::size_t offset_of(int thread, const void* p, std::size_t n, const char* access, std::uintptr_t pc) const;
  // Fails the block when a write by `thread` to this byte would race.
  void check_write(int thread, std::size_t offset, const Byte& b, std::size_t n, const char* access,
                   std::uintptr_t pc) const;

  unsigned char* base_ = nullptr;
  std::size_t bytes_ = 0;
  std::uintptr_t static_begin_ = 0;  // the launching thread's thread-local block
  std::size_t static_bytes_ = 0;
  std::uintptr_t window_begin_ = 0;
  std::size_t window_bytes_ = 0;
  std::uint32_t interval_ = 0;
  std::uint32_t first_interval_ = 0;
  std::vector<Byte> state_;  // [bytes_ dynamic, then static_bytes_ static]
};

}  // namespace ecsim::emulation::detail
