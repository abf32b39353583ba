// The checker of races between the blocks of one launch in global memory (global_memory_checker.hpp).
#include "emulation/global_memory_checker.hpp"

#include <string>

#include "emulation/block_runtime.hpp"
#include "emulation/emulation_error.hpp"

namespace ecsim::emulation::detail {
namespace {

GlobalMemoryChecker checker;

std::string describe_block(dim3 grid, std::int32_t linear) {
  const auto l = static_cast<unsigned>(linear);
  return "block " + describe_dim(dim3(l % grid.x, l / grid.x % grid.y, l / grid.x / grid.y));
}

}  // namespace

GlobalMemoryChecker& global_checker() { return checker; }

void GlobalMemoryChecker::begin_launch(dim3 grid) {
  const std::uint64_t blocks = std::uint64_t{grid.x} * grid.y * grid.z;
  if (blocks > static_cast<std::uint64_t>(INT32_MAX)) {
    throw EmulationError("a grid of " + std::to_string(blocks) +
                         " blocks: the emulation's global-memory checker numbers blocks in 31 bits");
  }
  grid_ = grid;
  block_ = kNobody;
  interval_ = 0;
  for (auto& [key, page] : pages_) spare_.push_back(std::move(page));
  pages_.clear();
  last_ = nullptr;
}

void GlobalMemoryChecker::begin_block(uint3 index) {
  block_ = static_cast<std::int32_t>(index.x + grid_.x * (index.y + std::uint64_t{grid_.y} * index.z));
  ++interval_;
}

GlobalMemoryChecker::Byte& GlobalMemoryChecker::byte_at(std::uintptr_t address) {
  const std::uintptr_t key = address / kPageBytes;
  if (last_ == nullptr || key != last_key_) {
    std::unique_ptr<Page>& page = pages_[key];
    if (page == nullptr) {
      if (spare_.empty()) {
        page = std::make_unique<Page>(kPageBytes);
      } else {
        page = std::move(spare_.back());
        spare_.pop_back();
        page->assign(kPageBytes, Byte{});
      }
    }
    last_key_ = key;
    last_ = page.get();
  }
  return (*last_)[address % kPageBytes];
}

void GlobalMemoryChecker::report(Race race, int thread, const char* access, const void* p, std::size_t n,
                                 std::uintptr_t pc, std::int32_t other) const {
  const bool between_blocks = race == Race::block_wrote || race == Race::block_read;
  const bool wrote = race == Race::block_wrote || race == Race::thread_wrote;
  // No named local but `what` may own memory: the thread never resumes (block_runtime.hpp, fail).
  std::string what =
      describe_thread(thread) + " " + access + " " + std::to_string(n) + " bytes of global memory at " +
      describe_address(p) + " (" + describe_code(pc) + ") that " +
      (other == kSeveral ? std::string(between_blocks ? "other blocks" : "other threads of the block")
                         : (between_blocks ? describe_block(grid_, other) : describe_thread(other))) +
      (wrote ? " wrote" : " read") +
      (between_blocks ? " in this launch: blocks run in no set order on a GPU, so the result depends on the "
                        "schedule (a race between blocks)"
                      : std::string(" since the last __syncthreads: a ") + (*access == 'r' ? "read" : "write") +
                            "-after-" + (wrote ? "write" : "read") + " race between threads of the block");
  fail(std::move(what));
}

void GlobalMemoryChecker::access(int thread, const void* p, std::size_t n, std::uintptr_t pc, bool is_write) {
  const char* verb = is_write ? "writes" : "reads";
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const auto t = static_cast<std::int16_t>(thread);
  for (std::size_t i = 0; i < n; ++i) {
    Byte& b = byte_at(address + i);
    if (b.writer_block != kNobody && b.writer_block != block_) {
      report(Race::block_wrote, thread, verb, p, n, pc, b.writer_block);
    }
    if (b.written == interval_ && b.writer != t) report(Race::thread_wrote, thread, verb, p, n, pc, b.writer);
    if (is_write) {
      if (b.reader_block != kNobody && b.reader_block != block_) {
        report(Race::block_read, thread, verb, p, n, pc, b.reader_block);
      }
      if (b.read == interval_ && b.reader != t) report(Race::thread_read, thread, verb, p, n, pc, b.reader);
      b.writer_block = block_;
      b.written = interval_;
      b.writer = t;
      continue;
    }
    b.reader_block = b.reader_block == kNobody || b.reader_block == block_ ? block_ : kSeveral;
    b.reader = b.read != interval_ || b.reader == t ? t : kSeveral;
    b.read = interval_;
  }
}

}  // namespace ecsim::emulation::detail
