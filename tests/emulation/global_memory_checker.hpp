// The checker of races between the blocks of one launch in global memory (README.md). A GPU runs a
// launch's blocks in no set order, many at once, and nothing orders one block's plain loads and
// stores against another's within the launch (the kernel files use no atomics and no grid-wide
// barrier; the emulation implements neither). So a byte that one block writes and another block
// reads or writes in the same launch holds whatever the schedule left: an order-dependent combine, a
// scatter where two blocks add into one row, a column sum finished by two blocks. The emulation runs
// the blocks one after another and would compute the reference anyway; this checker fails the
// block instead (block_runtime.hpp, fail), naming both blocks.
//
// It keeps, per byte of global memory a launch touches, the block that wrote it and the block that
// read it (or "several"), in pages made on first touch and forgotten at the next launch. Kernel
// launches in one stream are ordered, so only the running launch matters. Accesses come from the
// ThreadSanitizer hooks (shared_memory_checker.cpp): those outside shared memory and outside the
// running thread's own stack. Races between the threads of one block in global memory are not
// checked here (those kernels order them with __syncthreads, which this does not model).
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

  // Fail the block when the access races with another block's of this launch.
  void read(int thread, const void* p, std::size_t n, std::uintptr_t pc);
  void write(int thread, const void* p, std::size_t n, std::uintptr_t pc);

 private:
  static constexpr std::size_t kPageBytes = 4096;
  static constexpr std::int32_t kNoBlock = -1;
  static constexpr std::int32_t kSeveralBlocks = -2;

  struct Byte {
    std::int32_t writer = kNoBlock;  // linear block index
    std::int32_t reader = kNoBlock;  // linear block index, or kSeveralBlocks once two blocks read it
  };
  using Page = std::vector<Byte>;  // kPageBytes of them

  Byte& byte_at(std::uintptr_t address);
  [[noreturn]] void report(int thread, const char* access, const void* p, std::size_t n, std::uintptr_t pc,
                           std::int32_t other, const char* other_access) const;

  dim3 grid_{};
  std::int32_t block_ = kNoBlock;
  std::unordered_map<std::uintptr_t, std::unique_ptr<Page>> pages_;  // by address / kPageBytes
  std::vector<std::unique_ptr<Page>> spare_;                         // earlier launches' pages, for reuse
  std::uintptr_t last_key_ = 0;
  Page* last_ = nullptr;
};

GlobalMemoryChecker& global_checker();

}  // namespace ecsim::emulation::detail
