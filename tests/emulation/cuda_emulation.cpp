// The emulator's launches and CUDA threads (README.md). Each thread of a block is a fiber
// (ucontext) with its own stack; all of them run on the calling OS thread, one at a time, switching
// only where a thread must wait for others: at __syncthreads and at a warp instruction (shuffle,
// ldmatrix, mma), which the last lane to arrive executes for the whole warp. A thread that waits
// hands over to the next runnable one in a fixed order, so a run is deterministic. When no thread
// can run and some have not finished, the block is deadlocked. Blocks run one after another.
#include "emulation/cuda_emulation.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "emulation/block_runtime.hpp"
#include "emulation/global_memory_checker.hpp"
#include "emulation/shared_memory_checker.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace ecsim::emulation {
namespace detail {
namespace {

// Limits of a compute capability 9.0 device (CUDA C++ Programming Guide, "Technical
// Specifications per Compute Capability"); a launch beyond them fails on the GPU too.
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockXY = 1024;
constexpr unsigned kMaxBlockZ = 64;
constexpr unsigned kMaxGridX = 2147483647u;
constexpr unsigned kMaxGridYZ = 65535;
constexpr std::size_t kDefaultDynamicShared = 48 * 1024;  // without cudaFuncSetAttribute
constexpr std::size_t kMaxDynamicShared = 227 * 1024;     // with it

// Each fiber's stack. Kernel frames are a few KiB; ASan clears a fiber's whole stack's shadow on
// every switch to it, so a larger stack slows the sanitizer build.
constexpr std::size_t kStackBytes = 64 * 1024;

// Every thread's stack in one mapping, each above an inaccessible page: an overflow faults instead
// of overwriting the neighbouring thread's stack.
class FiberStacks {
 public:
  explicit FiberStacks(int count)
      : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))),
        stride_(kStackBytes + page_),
        bytes_(static_cast<std::size_t>(count) * stride_) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw EmulationError("mmap of " + std::to_string(bytes_) + " bytes of thread stacks failed");
    base_ = static_cast<unsigned char*>(p);
    for (int i = 0; i < count; ++i) mprotect(base_ + static_cast<std::size_t>(i) * stride_, page_, PROT_NONE);
  }
  FiberStacks(const FiberStacks&) = delete;
  FiberStacks& operator=(const FiberStacks&) = delete;
  ~FiberStacks() { munmap(base_, bytes_); }

  // A failed block's threads never return, and under ASan their frames stay poisoned: the next
  // launch on these stacks must start clean.
  void forget_frames() {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(base_, bytes_);
#endif
  }

  unsigned char* stack(int i) const { return base_ + static_cast<std::size_t>(i) * stride_ + page_; }

 private:
  std::size_t page_;
  std::size_t stride_;
  std::size_t bytes_;
  unsigned char* base_ = nullptr;
};

// The stacks of the largest block, mapped once and reused by every launch: mapping and guarding
// them anew cost more than most emulated kernels do. A page is committed when first touched.
FiberStacks& fiber_stacks() {
  static FiberStacks stacks(static_cast<int>(kMaxThreadsPerBlock));
  return stacks;
}

struct Stack {
  void* bottom;
  std::size_t bytes;
};

// The launching thread's own stack, where the scheduler runs. Looked up once per OS thread: for
// the main thread, glibc reads /proc/self/maps to find it.
Stack launching_thread_stack() {
  thread_local const Stack stack = [] {
    pthread_attr_t attr;
    Stack s{nullptr, 0};
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &s.bottom, &s.bytes);
      pthread_attr_destroy(&attr);
    }
    return s;
  }();
  return stack;
}

// Ends a switch in the context that resumes (ASan's fiber annotation; nothing without ASan).
void finish_switch([[maybe_unused]] void* fake_stack) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}

// Switches the OS thread from context `from` to `to`, whose stack is `to_stack`; returns when
// something switches back to `from`, which never happens when `from_ends` (an exited or failed
// thread). ASan is told of every switch, so that it knows which stack the code runs on.
void switch_context(ucontext_t& from, ucontext_t& to, [[maybe_unused]] const Stack& to_stack,
                    [[maybe_unused]] bool from_ends) {
  void* fake_stack = nullptr;
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(from_ends ? nullptr : &fake_stack, to_stack.bottom, to_stack.bytes);
#endif
  swapcontext(&from, &to);
  finish_switch(fake_stack);
}

// One launch in progress: its configuration, the running block's threads and warps, and the
// dynamic shared memory (with the checker's guards on both sides).
struct ActiveLaunch {
  ActiveLaunch(dim3 grid_dim, dim3 block_dim, std::size_t bytes, ThreadBody thread_body, const void* thread_call)
      : grid(grid_dim),
        block(block_dim),
        shared_bytes(bytes),
        body(thread_body),
        call(thread_call),
        thread_count(static_cast<int>(block_dim.x * block_dim.y * block_dim.z)),
        threads(static_cast<std::size_t>(thread_count)),
        warps(static_cast<std::size_t>((thread_count + kWarpLanes - 1) / kWarpLanes)),
        shared_allocation(bytes + 2 * SharedMemoryChecker::kGuardBytes + kSharedAlignment) {
    const auto guarded = reinterpret_cast<std::uintptr_t>(shared_allocation.data()) + SharedMemoryChecker::kGuardBytes;
    shared = shared_allocation.data() + ((guarded + kSharedAlignment - 1) / kSharedAlignment * kSharedAlignment -
                                         reinterpret_cast<std::uintptr_t>(shared_allocation.data()));
    for (std::size_t w = 0; w < warps.size(); ++w) {
      warps[w].lanes = std::min(kWarpLanes, thread_count - static_cast<int>(w) * kWarpLanes);
    }
  }

  static constexpr std::size_t kSharedAlignment = 128;

  dim3 grid;
  dim3 block;
  std::size_t shared_bytes;
  ThreadBody body;
  const void* call;
  int thread_count;
  uint3 block_index{};
  std::vector<Thread> threads;  // never resized: a ucontext_t points into itself
  std::vector<Warp> warps;
  std::deque<Thread*> runnable;
  int at_barrier = 0;
  int barrier_votes = 0;   // __syncthreads_count: the threads at the barrier with a true predicate so far
  int barrier_result = 0;  // and the count of the barrier last completed, which each thread returns
  int exited = 0;
  ucontext_t scheduler{};  // the launching thread's own context, where a block starts and ends
  Stack scheduler_stack = launching_thread_stack();
  std::string failure;
  std::vector<unsigned char> shared_allocation;
  unsigned char* shared = nullptr;
  FiberStacks& stacks = fiber_stacks();
};

ActiveLaunch* active = nullptr;
std::map<std::uintptr_t, std::size_t> dynamic_shared_allowed;  // cudaFuncSetAttribute, per kernel

// Hands the OS thread from `me` to the next runnable CUDA thread, or back to the scheduler when
// there is none (the block has finished or is stuck). Returns when someone makes `me` runnable.
void switch_from(Thread& me) {
  ActiveLaunch& launch = *active;
  const bool ends = me.state == ThreadState::exited;
  if (launch.runnable.empty()) {
    running_thread = nullptr;
    switch_context(me.context, launch.scheduler, launch.scheduler_stack, ends);
  } else {
    Thread* next = launch.runnable.front();
    launch.runnable.pop_front();
    running_thread = next;
    switch_context(me.context, next->context, {next->stack, next->stack_bytes}, ends);
  }
}

void make_runnable(Thread& t) {
  t.state = ThreadState::runnable;
  active->runnable.push_back(&t);
}

// Where every CUDA thread starts (makecontext): the kernel, then the thread's exit.
void thread_main() {
  finish_switch(nullptr);  // the switch that started this thread
  ActiveLaunch& launch = *active;
  launch.body(launch.call);
  Thread& me = *running_thread;
  // Copies still in flight land as the thread exits.
  for (auto& group : me.committed) land_copies(me, group);
  land_copies(me, me.uncommitted);
  me.committed.clear();
  me.state = ThreadState::exited;
  ++launch.exited;
  switch_from(me);  // never resumes
}

// Why a block stopped with threads left: who waits where.
std::string describe_deadlock(const ActiveLaunch& launch) {
  std::string what = "deadlock: " + std::to_string(launch.thread_count - launch.exited) + " of " +
                     std::to_string(launch.thread_count) + " threads wait for others that will never come (" +
                     std::to_string(launch.exited) + " have exited)";
  if (launch.at_barrier > 0) what += "; " + std::to_string(launch.at_barrier) + " wait at __syncthreads";
  for (std::size_t w = 0; w < launch.warps.size(); ++w) {
    const Warp& warp = launch.warps[w];
    if (warp.arrived > 0) {
      what += "; warp " + std::to_string(w) + ": " + std::to_string(warp.arrived) + " of " +
              std::to_string(warp.lanes) + " lanes wait at " + warp_op_name(warp.op);
    }
  }
  return what;
}

// Runs one block to its end; returns why it failed, or an empty string.
std::string run_block(ActiveLaunch& launch, uint3 block_index) {
  launch.block_index = block_index;
  std::memset(launch.shared, 0xFF, launch.shared_bytes);  // NaN as bf16 and fp32, should a read slip through
  shared_checker().begin_block(launch.shared);
  global_checker().begin_block(block_index);
  for (Warp& w : launch.warps) w.arrived = 0;
  launch.at_barrier = 0;
  launch.barrier_votes = 0;
  launch.exited = 0;
  std::string().swap(launch.failure);  // empty, owning nothing: fail() swaps the message in
  launch.runnable.clear();
  const dim3 b = launch.block;
  for (int i = 0; i < launch.thread_count; ++i) {
    Thread& t = launch.threads[static_cast<std::size_t>(i)];
    const auto u = static_cast<unsigned>(i);
    t.index = {u % b.x, u / b.x % b.y, u / (b.x * b.y)};
    t.id = i;
    t.uncommitted.clear();
    t.committed.clear();
    t.stack = launch.stacks.stack(i);
    t.stack_bytes = kStackBytes;
    getcontext(&t.context);
    t.context.uc_stack.ss_sp = t.stack;
    t.context.uc_stack.ss_size = t.stack_bytes;
    t.context.uc_link = &launch.scheduler;
    makecontext(&t.context, thread_main, 0);
    make_runnable(t);
  }
  running_thread = launch.runnable.front();
  launch.runnable.pop_front();
  switch_context(launch.scheduler, running_thread->context, {running_thread->stack, running_thread->stack_bytes},
                 false);
  // Back on the launching thread's stack: every thread has exited, or none can go on.
  running_thread = nullptr;
  shared_checker().end_block();
  if (!launch.failure.empty()) return launch.failure;
  if (launch.exited < launch.thread_count) return describe_deadlock(launch);
  return {};
}

// Sets `active` for the duration of a launch.
struct ActiveScope {
  explicit ActiveScope(ActiveLaunch& launch) { active = &launch; }
  ActiveScope(const ActiveScope&) = delete;
  ActiveScope& operator=(const ActiveScope&) = delete;
  ~ActiveScope() { active = nullptr; }
};

}  // namespace

Thread* running_thread = nullptr;

const char* warp_op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shuffle:
      return "a shuffle (shfl.sync)";
    case WarpOp::ldmatrix:
      return "ldmatrix";
    case WarpOp::ldmatrix_trans:
      return "ldmatrix.trans";
    case WarpOp::mma:
      return "mma.sync";
  }
  return "?";
}

void land_copies(Thread& t, std::vector<AsyncCopy>& group) {
  for (const AsyncCopy& c : group) {
    std::memcpy(c.shared, c.global, static_cast<std::size_t>(c.src_bytes));
    std::memset(c.shared + c.src_bytes, 0, static_cast<std::size_t>(16 - c.src_bytes));
    shared_checker().land_async_write(t.id, c.shared, 16);
  }
  group.clear();
}

Warp& warp_of(const Thread& t) { return active->warps[static_cast<std::size_t>(t.warp())]; }

[[noreturn]] void fail(std::string&& what) {
  if (running_thread == nullptr || active == nullptr) throw EmulationError(what);
  Thread& me = *running_thread;
  active->failure.swap(what);  // `what` is left empty, owning nothing
  running_thread = nullptr;
  switch_context(me.context, active->scheduler, active->scheduler_stack, true);
  std::abort();  // a failed block's threads never resume
}

void arrive_at_warp_op(WarpOp op, void (*execute)(Warp&)) {
  Thread& me = *running_thread;
  Warp& warp = warp_of(me);
  if (warp.arrived > 0 && warp.op != op) {
    std::string what = describe_thread(me.id) + " reaches " + warp_op_name(op) + " while " +
                       std::to_string(warp.arrived) + " lanes of its warp wait at " + warp_op_name(warp.op) +
                       ": the warp's lanes diverged at a .sync instruction";
    fail(std::move(what));
  }
  warp.op = op;
  if (++warp.arrived < warp.lanes) {
    me.state = ThreadState::at_warp_op;
    switch_from(me);
    return;
  }
  warp.arrived = 0;
  execute(warp);
  const int first = me.warp() * kWarpLanes;
  for (int id = first; id < first + warp.lanes; ++id) {
    if (id != me.id) make_runnable(active->threads[static_cast<std::size_t>(id)]);
  }
}

std::string describe_dim(const dim3& d) {
  std::string s = std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z);
  return s.insert(0, 1, '(') + ")";
}

std::string describe_address(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%#zx", static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(p)));
  return text;
}

std::string describe_thread(int id) {
  return "thread " + std::to_string(id) + " (warp " + std::to_string(id / kWarpLanes) + ", lane " +
         std::to_string(id % kWarpLanes) + ")";
}

std::string describe_code(std::uintptr_t pc) {
  // pc is a return address; the call before it is one byte earlier.
  Dl_info info{};
  if (pc == 0 || dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0 || info.dli_fname == nullptr) {
    return "code address unknown";
  }
  char offset[32];
  std::snprintf(offset, sizeof offset, "+0x%zx",
                static_cast<std::size_t>(pc - 1 - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
  return std::string(info.dli_fname) + offset;
}

}  // namespace detail

uint3 thread_index() { return detail::running_thread->index; }
uint3 block_index() { return detail::active->block_index; }
dim3 block_dim() { return detail::active->block; }
dim3 grid_dim() { return detail::active->grid; }

unsigned char* dynamic_shared_memory() { return detail::active->shared; }

int sync_threads_count(int predicate) {
  using namespace detail;
  ActiveLaunch& launch = *active;
  Thread& me = *running_thread;
  if (launch.exited > 0) {
    std::string what = describe_thread(me.id) + " reaches __syncthreads after " + std::to_string(launch.exited) +
                       " threads of its block exited (undefined in CUDA: every thread must reach it)";
    fail(std::move(what));
  }
  if (predicate != 0) ++launch.barrier_votes;
  if (++launch.at_barrier < launch.thread_count) {
    me.state = ThreadState::at_barrier;
    switch_from(me);
    // barrier_result changes only when the next barrier completes, which needs this thread too.
    return launch.barrier_result;
  }
  launch.at_barrier = 0;
  launch.barrier_result = launch.barrier_votes;
  launch.barrier_votes = 0;
  shared_checker().barrier();
  global_checker().barrier();
  for (Thread& t : launch.threads) {
    if (t.state == ThreadState::at_barrier) make_runnable(t);
  }
  return launch.barrier_result;
}

void sync_threads() { sync_threads_count(0); }

std::uint32_t shuffle(ShuffleMode mode, unsigned mask, std::uint32_t value, int operand, int width) {
  using namespace detail;
  Thread& me = *running_thread;
  LaneSlot& slot = warp_of(me).slots[static_cast<std::size_t>(me.lane())];
  slot.mode = mode;
  slot.mask = mask;
  slot.operand = operand;
  slot.width = width;
  slot.in[0] = value;
  arrive_at_warp_op(WarpOp::shuffle, [](Warp& warp) {
    const LaneSlot& first = warp.slots[0];
    const unsigned everyone = warp.lanes == kWarpLanes ? 0xffffffffu : (1u << warp.lanes) - 1;
    for (int lane = 0; lane < warp.lanes; ++lane) {
      const LaneSlot& s = warp.slots[static_cast<std::size_t>(lane)];
      if (s.mode != first.mode || s.mask != first.mask || s.width != first.width || s.mask != everyone || s.width < 1 ||
          s.width > kWarpLanes || (s.width & (s.width - 1)) != 0) {
        char masks[64];
        std::snprintf(masks, sizeof masks, "mask 0x%x width %d", s.mask, s.width);
        std::string what = describe_thread(running_thread->warp() * kWarpLanes + lane) + " shuffles with " + masks +
                           ": the emulation runs shuffles of the whole warp only, every lane with the same mode, "
                           "mask and power-of-two width";
        fail(std::move(what));
      }
    }
    for (int lane = 0; lane < warp.lanes; ++lane) {
      LaneSlot& s = warp.slots[static_cast<std::size_t>(lane)];
      const int segment = lane / s.width * s.width;  // the first lane of this lane's group of `width`
      int source = lane;
      switch (s.mode) {
        case ShuffleMode::index:
          source = segment + (s.operand & (s.width - 1));
          break;
        case ShuffleMode::up:
          source = lane - s.operand >= segment ? lane - s.operand : lane;
          break;
        case ShuffleMode::down:
          source = lane + s.operand < segment + s.width ? lane + s.operand : lane;
          break;
        case ShuffleMode::exclusive_or:
          source = lane ^ s.operand;
          if (source >= segment + s.width) source = lane;  // later groups are out of reach
          break;
      }
      if (source >= warp.lanes) source = lane;
      s.out[0] = warp.slots[static_cast<std::size_t>(source)].in[0];
    }
  });
  return slot.out[0];
}

void allow_dynamic_shared(std::uintptr_t kernel, int bytes) {
  if (bytes < 0 || static_cast<std::size_t>(bytes) > detail::kMaxDynamicShared) {
    throw EmulationError("cudaFuncSetAttribute(MaxDynamicSharedMemorySize, " + std::to_string(bytes) +
                         "): outside the 0 .. " + std::to_string(detail::kMaxDynamicShared) +
                         " bytes a compute capability 9.0 block can have");
  }
  detail::dynamic_shared_allowed[kernel] = static_cast<std::size_t>(bytes);
}

void run_grid(std::uintptr_t kernel, dim3 grid, dim3 block, std::size_t shared_bytes, ThreadBody body,
              const void* call) {
  using namespace detail;
  std::string launch_name = "launch of grid ";
  launch_name += describe_dim(grid) + ", block " + describe_dim(block) + ", " + std::to_string(shared_bytes) +
                 " bytes of dynamic shared memory";
  if (active != nullptr) throw EmulationError(launch_name + ": inside a running kernel (not emulated)");
  const std::uint64_t threads = std::uint64_t{block.x} * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.x > kMaxBlockXY || block.y > kMaxBlockXY ||
      block.z > kMaxBlockZ) {
    throw EmulationError(launch_name + ": the block exceeds 1024 threads or (1024, 1024, 64), or is empty");
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > kMaxGridX || grid.y > kMaxGridYZ || grid.z > kMaxGridYZ) {
    throw EmulationError(launch_name + ": the grid is empty or exceeds (2^31 - 1, 65535, 65535)");
  }
  const auto allowed = dynamic_shared_allowed.find(kernel);
  const std::size_t limit = allowed == dynamic_shared_allowed.end() ? kDefaultDynamicShared
                                                                    : std::max(kDefaultDynamicShared, allowed->second);
  if (shared_bytes > limit) {
    throw EmulationError(launch_name + ": the kernel may use " + std::to_string(limit) +
                         " bytes (more needs cudaFuncSetAttribute, launch.cuh's allow_dynamic_shared)");
  }

  ActiveLaunch launch(grid, block, shared_bytes, body, call);
  const ActiveScope scope(launch);
  shared_checker().begin_launch(shared_bytes);
  global_checker().begin_launch(grid);
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) {
        const std::string failure = run_block(launch, {x, y, z});
        if (!failure.empty()) {
          launch.stacks.forget_frames();
          throw EmulationError(std::string("block ") + describe_dim(dim3(x, y, z)) + " of a " + launch_name + ": " +
                               failure + " [code addresses are module+offset: addr2line -Cfie <module> <offset>]");
        }
      }
    }
  }
}

}  // namespace ecsim::emulation
