// The shared-memory checker (shared_memory_checker.hpp) and the ThreadSanitizer hooks that feed it
// every load and store of the instrumented kernel files.
#include "emulation/shared_memory_checker.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <string>

#include "emulation/block_runtime.hpp"
#include "emulation/global_memory_checker.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace ecsim::emulation::detail {
namespace {

SharedMemoryChecker checker;

// The calling thread's instance of the thread-local block (PT_TLS) of the module this code is linked
// into, with the kernel files: every static __shared__ variable lies there (cuda_emulation.hpp
// makes them thread_local). Empty when the module has none.
struct ThreadLocalBlock {
  std::uintptr_t begin = 0;
  std::size_t bytes = 0;
};

ThreadLocalBlock own_thread_local_block() {
  struct Search {
    std::uintptr_t code;
    ThreadLocalBlock found;
  } search{reinterpret_cast<std::uintptr_t>(&own_thread_local_block), {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& s = *static_cast<Search*>(data);
        bool holds_code = false;
        std::size_t tls_bytes = 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& h = info->dlpi_phdr[i];
          const std::uintptr_t begin = info->dlpi_addr + h.p_vaddr;
          if (h.p_type == PT_LOAD && s.code - begin < h.p_memsz) holds_code = true;
          if (h.p_type == PT_TLS) tls_bytes = h.p_memsz;
        }
        if (!holds_code) return 0;
        if (info->dlpi_tls_data != nullptr) {
          s.found = {reinterpret_cast<std::uintptr_t>(info->dlpi_tls_data), tls_bytes};
        }
        return 1;
      },
      &search);
  return search.found;
}

enum class Conflict { in_flight_copy, unwritten, read_after_write, write_after_write, write_after_read };

// Fails the block: "<thread> <access> <which shared bytes> at <code>, <why>". Only scalars come in:
// the thread never resumes, so the message is built here, in a statement of its own (block_runtime.hpp).
[[noreturn]] void report(Conflict conflict, int thread, const char* access, std::size_t offset, std::size_t n,
                         std::uintptr_t pc, int other, std::uintptr_t other_pc) {
  std::string what = describe_thread(thread) + " " + access + " " + checker.describe_bytes(offset, n) + " at " +
                     describe_code(pc);
  switch (conflict) {
    case Conflict::in_flight_copy:
      what += " while " + describe_thread(other) + "'s cp.async to them (" + describe_code(other_pc) +
              ") is in flight: it lands only at that thread's cp.async.wait_group";
      break;
    case Conflict::unwritten:
      what += ", which no thread of the block has written (shared memory starts undefined)";
      break;
    case Conflict::read_after_write:
    case Conflict::write_after_write:
      what += ", which " + describe_thread(other) + " wrote (" + describe_code(other_pc) +
              ") since the last __syncthreads: a " + (conflict == Conflict::read_after_write ? "read" : "write") +
              "-after-write race";
      break;
    case Conflict::write_after_read:
      what += ", which " + describe_thread(other) + " read (" + describe_code(other_pc) +
              ") since the last __syncthreads: a write-after-read race";
      break;
  }
  fail(std::move(what));
}

}  // namespace

SharedMemoryChecker& shared_checker() { return checker; }

void SharedMemoryChecker::begin_launch(std::size_t bytes) {
  const ThreadLocalBlock statics = own_thread_local_block();  // the launching thread's copies
  static_begin_ = statics.begin;
  static_bytes_ = statics.bytes;
  bytes_ = bytes;
  state_.assign(bytes + static_bytes_, Byte{});
  interval_ = 0;
}

void SharedMemoryChecker::begin_block(unsigned char* base) {
  base_ = base;
  window_begin_ = reinterpret_cast<std::uintptr_t>(base) - kGuardBytes;
  window_bytes_ = bytes_ + 2 * kGuardBytes;
  first_interval_ = ++interval_;  // every byte's history is from earlier blocks now
}

std::string SharedMemoryChecker::describe_bytes(std::size_t offset, std::size_t n) const {
  if (offset < bytes_) {
    return "dynamic shared bytes [" + std::to_string(offset) + ", " + std::to_string(offset + n) + ")";
  }
  // nm lists a thread-local variable's value as its offset in the module's thread-local block.
  Dl_info info{};
  const bool named = dladdr(reinterpret_cast<void*>(&own_thread_local_block), &info) != 0 && info.dli_fname;
  char where[64];
  std::snprintf(where, sizeof where, "offset 0x%zx of the thread-local block of ", offset - bytes_);
  return std::to_string(n) + " bytes of a static __shared__ variable at " + where +
         (named ? info.dli_fname : "the program") + " (nm -C lists the variable at that value)";
}

std::size_t SharedMemoryChecker::offset_of(int thread, const void* p, std::size_t n, const char* access,
                                           std::uintptr_t pc) const {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if (address - static_begin_ < static_bytes_) {
    if (address + n > static_begin_ + static_bytes_) {
      std::string what = describe_thread(thread) + " " + access + " " + std::to_string(n) + " bytes at " +
                         describe_code(pc) + " past the end of the static __shared__ variables";
      fail(std::move(what));
    }
    return bytes_ + (address - static_begin_);
  }
  const auto begin = reinterpret_cast<std::uintptr_t>(base_);
  if (address < begin || address + n > begin + bytes_) {
    std::string what = describe_thread(thread) + " " + access + " " + std::to_string(n) + " bytes at " +
                       describe_code(pc) + ", " +
                       (address < begin ? std::to_string(begin - address) + " bytes before the start"
                                        : std::to_string(address + n - begin - bytes_) + " bytes past the end") +
                       " of the block's " + std::to_string(bytes_) + " bytes of dynamic shared memory";
    fail(std::move(what));
  }
  return address - begin;
}

void SharedMemoryChecker::check_write(int thread, std::size_t offset, const Byte& b, std::size_t n, const char* access,
                                      std::uintptr_t pc) const {
  if (b.copier != kNobody) report(Conflict::in_flight_copy, thread, access, offset, n, pc, b.copier, b.write_pc);
  if (b.written == interval_ && b.writer != thread) {
    report(Conflict::write_after_write, thread, access, offset, n, pc, b.writer, b.write_pc);
  }
  if (b.read == interval_) {
    const bool first = b.first_reader != thread;
    const int reader = first ? b.first_reader : b.other_reader;
    if (reader != kNobody) {
      report(Conflict::write_after_read, thread, access, offset, n, pc, reader, first ? b.read_pc : b.other_read_pc);
    }
  }
}

void SharedMemoryChecker::read(int thread, const void* p, std::size_t n, std::uintptr_t pc) {
  const std::size_t offset = offset_of(thread, p, n, "reads", pc);
  const auto t = static_cast<std::int16_t>(thread);
  for (std::size_t i = offset; i < offset + n; ++i) {
    Byte& b = state_[i];
    if (b.copier != kNobody) report(Conflict::in_flight_copy, thread, "reads", offset, n, pc, b.copier, b.write_pc);
    if (b.written < first_interval_) report(Conflict::unwritten, thread, "reads", offset, n, pc, kNobody, 0);
    if (b.written == interval_ && b.writer != t) {
      report(Conflict::read_after_write, thread, "reads", offset, n, pc, b.writer, b.write_pc);
    }
    if (b.read != interval_) {
      b.read = interval_;
      b.first_reader = t;
      b.read_pc = pc;
      b.other_reader = kNobody;
    } else if (b.first_reader != t) {
      b.other_reader = t;
      b.other_read_pc = pc;
    }
  }
}

void SharedMemoryChecker::write(int thread, const void* p, std::size_t n, std::uintptr_t pc) {
  const std::size_t offset = offset_of(thread, p, n, "writes", pc);
  for (std::size_t i = offset; i < offset + n; ++i) {
    Byte& b = state_[i];
    check_write(thread, offset, b, n, "writes", pc);
    b.written = interval_;
    b.writer = static_cast<std::int16_t>(thread);
    b.write_pc = pc;
  }
}

void SharedMemoryChecker::issue_async_write(int thread, const void* p, std::size_t n, std::uintptr_t pc) {
  const std::size_t offset = offset_of(thread, p, n, "starts a cp.async to", pc);
  for (std::size_t i = offset; i < offset + n; ++i) {
    Byte& b = state_[i];
    check_write(thread, offset, b, n, "starts a cp.async to", pc);
    b.copier = static_cast<std::int16_t>(thread);
    b.write_pc = pc;
  }
}

void SharedMemoryChecker::land_async_write(int thread, const void* p, std::size_t n) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const std::size_t offset = address - static_begin_ < static_bytes_
                                 ? bytes_ + (address - static_begin_)
                                 : address - reinterpret_cast<std::uintptr_t>(base_);
  for (std::size_t i = offset; i < offset + n; ++i) {
    Byte& b = state_[i];
    b.copier = kNobody;
    b.written = interval_;
    b.writer = static_cast<std::int16_t>(thread);
  }
}

namespace {

// A GPU load or store of 2, 4, 8 or 16 bytes must lie on a multiple of its size, or the kernel stops
// with "misaligned address"; the CPU would do it. The hooks of naturally aligned accesses are the
// ones the compiler called for an access whose type it takes as aligned to its size (a uint4 or
// __nv_bfloat162 through a cast pointer, for one), as nvcc does when it emits the vector load.
void require_natural_alignment(const Thread& t, const void* p, std::size_t n, bool is_write, std::uintptr_t pc) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if (address % n == 0) return;
  std::string what = describe_thread(t.id) + (is_write ? " writes " : " reads ") + std::to_string(n) +
                     " bytes at address " + describe_address(p) + " (" + std::to_string(address % n) +
                     " past a multiple of " + std::to_string(n) + ") at " + describe_code(pc) +
                     ": a GPU stops on this misaligned access (an offset or leading dimension that is not a "
                     "multiple of the vector's width?)";
  fail(std::move(what));
}

// A load or store of an instrumented kernel file, before it happens; `aligned` for the hooks of
// naturally aligned accesses.
void on_kernel_access(const void* p, std::size_t n, bool is_write, bool aligned, std::uintptr_t pc) {
  const Thread* t = running_thread;
  if (t == nullptr) return;  // host code of the file (a launcher)
  if (aligned) require_natural_alignment(*t, p, n, is_write, pc);
  if (checker.watches(p)) {
    if (is_write) {
      checker.write(t->id, p, n, pc);
    } else {
      checker.read(t->id, p, n, pc);
    }
    return;
  }
  // The thread's own stack holds its registers and locals; any other address is global memory.
  const auto* c = static_cast<const unsigned char*>(p);
  if (c >= t->stack && c < t->stack + t->stack_bytes) return;
#if defined(__SANITIZE_ADDRESS__)
  if (__asan_region_is_poisoned(const_cast<void*>(p), n) != nullptr) {
    __asan_describe_address(const_cast<void*>(p));
    std::string what = describe_thread(t->id) + (is_write ? " writes " : " reads ") + std::to_string(n) + " bytes at " +
                       describe_code(pc) +
                       " that ASan marks unaddressable (outside a global buffer? ASan's description of the "
                       "address is printed above)";
    fail(std::move(what));
  }
#endif
  global_checker().access(t->id, p, n, pc, is_write);
}

}  // namespace
}  // namespace ecsim::emulation::detail

// The entry points GCC's -fsanitize=thread calls (the ThreadSanitizer runtime is not linked). A
// kernel file that needs others (atomics, for one) fails to link, naming the missing one.
#define ECSIM_KERNEL_ACCESS_AS(p, n, is_write, aligned)                 \
  ::ecsim::emulation::detail::on_kernel_access(p, n, is_write, aligned, \
                                               reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)))
#define ECSIM_KERNEL_ACCESS(p, n, is_write) ECSIM_KERNEL_ACCESS_AS(p, n, is_write, true)
#define ECSIM_KERNEL_ACCESS_UNALIGNED(p, n, is_write) ECSIM_KERNEL_ACCESS_AS(p, n, is_write, false)

extern "C" {
void __tsan_init() {}
void __tsan_read1(void* p) { ECSIM_KERNEL_ACCESS(p, 1, false); }
void __tsan_read2(void* p) { ECSIM_KERNEL_ACCESS(p, 2, false); }
void __tsan_read4(void* p) { ECSIM_KERNEL_ACCESS(p, 4, false); }
void __tsan_read8(void* p) { ECSIM_KERNEL_ACCESS(p, 8, false); }
void __tsan_read16(void* p) { ECSIM_KERNEL_ACCESS(p, 16, false); }
void __tsan_write1(void* p) { ECSIM_KERNEL_ACCESS(p, 1, true); }
void __tsan_write2(void* p) { ECSIM_KERNEL_ACCESS(p, 2, true); }
void __tsan_write4(void* p) { ECSIM_KERNEL_ACCESS(p, 4, true); }
void __tsan_write8(void* p) { ECSIM_KERNEL_ACCESS(p, 8, true); }
void __tsan_write16(void* p) { ECSIM_KERNEL_ACCESS(p, 16, true); }
void __tsan_unaligned_read2(const void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 2, false); }
void __tsan_unaligned_read4(const void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 4, false); }
void __tsan_unaligned_read8(const void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 8, false); }
void __tsan_unaligned_read16(const void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 16, false); }
void __tsan_unaligned_write2(void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 2, true); }
void __tsan_unaligned_write4(void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 4, true); }
void __tsan_unaligned_write8(void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 8, true); }
void __tsan_unaligned_write16(void* p) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, 16, true); }
void __tsan_read_range(void* p, unsigned long n) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, n, false); }
void __tsan_write_range(void* p, unsigned long n) { ECSIM_KERNEL_ACCESS_UNALIGNED(p, n, true); }
void __tsan_vptr_update(void** p, void*) { ECSIM_KERNEL_ACCESS(p, sizeof *p, true); }  // a constructor's store
}
