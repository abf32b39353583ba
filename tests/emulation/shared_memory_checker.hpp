// The checker of a block's dynamic shared memory (README.md). It keeps, per byte, the last writer
// and the readers since the last __syncthreads, and fails the block (block_runtime.hpp, fail) on
//   - a race: two threads touch a byte between the same two barriers, at least one of them writing
//     (read after write, write after read, write after write). Lanes of one warp race too: the
//     emulation has no __syncwarp, and nothing else orders their accesses in CUDA's memory model;
//   - a cp.async in flight: any access, by any thread, to bytes an issued copy has not landed yet
//     (the copy may land at any moment until its cp.async.wait_group);
//   - a read of a byte no thread of the block has written (shared memory starts undefined);
//   - an access outside [0, shared_bytes), recognised up to kGuardBytes beyond either end.
// Kernel files are compiled with GCC's ThreadSanitizer instrumentation (CMakeLists.txt), which
// calls a __tsan_read/__tsan_write hook before every load and store; the hooks (in the .cpp) pass
// those that fall on shared memory to this checker, so plain C++ accesses are checked as well as
// cp.async and ldmatrix. In the sanitizer build the hooks also ask ASan whether each other address
// a kernel touches (global memory) is addressable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ecsim::emulation::detail {

class SharedMemoryChecker {
 public:
  static constexpr std::size_t kGuardBytes = 64 * 1024;

  // A launch with `bytes` of dynamic shared memory per block: forgets every earlier launch.
  void begin_launch(std::size_t bytes);
  // A new block whose shared memory is at `base`, with kGuardBytes of the same allocation before
  // and after it that no access may touch.
  void begin_block(unsigned char* base);
  void end_block() { base_ = nullptr; }
  void barrier() { ++interval_; }  // every thread of the block passed __syncthreads

  // Whether `p` lies in the running block's shared memory or its guards.
  bool watches(const void* p) const {
    return base_ != nullptr && reinterpret_cast<std::uintptr_t>(p) - window_begin_ < window_bytes_;
  }

  void read(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  void write(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  // A cp.async: its write may happen at any moment from issue to landing (cp.async.wait_group).
  void issue_async_write(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  void land_async_write(int thread, const void* p, std::size_t n);

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

  // The offset of [p, p + n) in the block's shared memory; fails the block when it is outside.
  std::size_t offset_of(int thread, const void* p, std::size_t n, const char* access, std::uintptr_t pc) const;
  // Fails the block when a write by `thread` to this byte would race.
  void check_write(int thread, std::size_t offset, const Byte& b, std::size_t n, const char* access,
                   std::uintptr_t pc) const;

  unsigned char* base_ = nullptr;
  std::size_t bytes_ = 0;
  std::uintptr_t window_begin_ = 0;
  std::size_t window_bytes_ = 0;
  std::uint32_t interval_ = 0;
  std::uint32_t first_interval_ = 0;
  std::vector<Byte> state_;
};

}  // namespace ecsim::emulation::detail
