// The checker of races in global memory (README.md), at two levels:
//   - between the blocks of one launch. A GPU runs them in no set order, many at once, and nothing
//     orders one block's plain loads and stores against another's within the launch (the kernel
//     files use no atomics and no grid-wide barrier; the emulation implements neither). So a byte
//     that one block writes and another block reads or writes in the same launch holds whatever the
//     schedule left: an order-dependent combine, a scatter where two blocks add into one row, a
//     column sum finished by two blocks;
//   - between the threads of one block, from one __syncthreads to the next (lanes of one warp
//     included, as in the shared-memory checker): two threads writing one byte, or one reading what
//     another writes, with no barrier between them.
// The emulation runs blocks one after another and threads in a fixed order, so it would compute
// the reference anyway; this checker fails the block instead (block_runtime.hpp, fail), naming
// both parties.
//
// It keeps, per byte of global memory a launch touches, its last writer and its readers (block,
// thread, and the stretch between barriers), in pages made on first touch and forgotten at the
// next launch: launches in one stream are ordered, so only the running one matters. Accesses come
// from the ThreadSanitizer hooks (shared_memory_checker.cpp): those outside shared memory and
// outside the running thread's own stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "emulation/cuda_emulation.hpp"

namespace ecsim::emulation::detail {

class GlobalMemoryChecker {
 public:
  // A launch of `grid` begins: forgets every earlier one.
  void begin_launch(dim3 grid);
  void begin_block(uint3 index);  // the running block
  void barrier() { ++interval_; }  // every thread of the block passed __syncthreads

  // Fail the block when the access races with another block's or another thread's.
  void access(int thread, const void* p, std::size_t n, std::uintptr_t pc, bool is_write);

 private:
  static constexpr std::size_t kPageBytes = 4096;
  static constexpr std::int32_t kNobody = -1;
  static constexpr std::int32_t kSeveral = -2;

  // What happened to one byte in this launch. Intervals number the stretches between barriers
  // across all blocks of the launch (0: none), so an equal interval means the same block.
  struct Byte {
    std::uint32_t written = 0;          // interval of the last write
    std::uint32_t read = 0;             // interval of `reader`'s read
    std::int32_t writer_block = kNobody;  // linear block index
    std::int32_t reader_block = kNobody;  // linear block index, or kSeveral once two blocks read it
    std::int16_t writer = kNobody;        // thread of the last write
    std::int16_t reader = kNobody;        // thread that read in interval `read`, or kSeveral
  };
  using Page = std::vector<Byte>;  // kPageBytes of them

  enum class Race { block_wrote, block_read, thread_wrote, thread_read };

  Byte& byte_at(std::uintptr_t address);
  [[noreturn]] void report(Race race, int thread, const char* access, const void* p, std::size_t n, std::uintptr_t pc,
                           std::int32_t other) const;

  dim3 grid_{};
  std::int32_t block_ = kNobody;
  std::uint32_t interval_ = 0;
  std::unordered_map<std::uintptr_t, std::unique_ptr<Page>> pages_;  // by address / kPageBytes
  std::vector<std::unique_ptr<Page>> spare_;                         // earlier launches' pages, for reuse
  std::uintptr_t last_key_ = 0;
  Page* last_ = nullptr;
};

GlobalMemoryChecker& global_checker();

}  // namespace ecsim::emulation::detail
