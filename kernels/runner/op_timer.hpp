// Per-operator timing with CUDA events: a pair of events around each op on the compute stream,
// tagged (name, label, layer, micro-batch, phase) as the simulator tags its tasks, plus a pair
// around the whole step. Events are made once and reused every step, so timing adds no allocation
// to a measured step; reading them waits for the stream (collect, after the step).
#pragma once

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ecsim::runner {

enum class Phase { kForward, kBackward, kOptimizer };
const char* phase_name(Phase p);  // "forward", "backward", "optimizer" (ecsim.run/1)

struct TimedOp {
  std::string name;   // kernel family ("gemm", "attention_bwd")
  std::string label;  // position ("self_attn.qkv")
  std::int64_t layer = -1;
  std::int64_t micro_batch = -1;
  Phase phase = Phase::kForward;
  double start_ns = 0;  // from the step's start
  double time_ns = 0;
  // Host time inside the op's scope: enqueueing its kernels and events (and any wait for the
  // device the op makes, e.g. dropless routing's row counts). Where it exceeds the GPU's time
  // for the ops, the GPU idles between them: the step is bound by kernel launches.
  double host_ns = 0;
  // Host time before the op's scope opened, since the previous op's closed (since begin_step for
  // the first): the runner's own work between operators, which a launch-bound step also waits for.
  double host_gap_ns = 0;
};

class OpTimer {
 public:
  explicit OpTimer(cudaStream_t stream);
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

  // Records the stop event when it goes out of scope.
  class Scope {
   public:
    Scope(OpTimer* timer, std::size_t index) : timer_(timer), index_(index) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() noexcept(false);

   private:
    OpTimer* timer_;
    std::size_t index_;
  };

  void begin_step();
  void end_step();
  // name and label are kept as pointers until collect(): string literals (static storage), so that
  // timing an op builds no string on the host's path between kernel launches.
  [[nodiscard]] Scope time(const char* name, const char* label, std::int64_t layer, std::int64_t micro_batch,
                           Phase phase);

  // The last step's ops in the order they ran, and the step's time; both wait for the stream.
  std::vector<TimedOp> collect() const;
  double step_seconds() const;

 private:
  struct Slot {
    cudaEvent_t start = nullptr, stop = nullptr;
    std::chrono::steady_clock::time_point host_start;  // when the op's scope opened
  };
  cudaStream_t stream_;
  cudaEvent_t step_start_ = nullptr, step_stop_ = nullptr;
  std::vector<Slot> slots_;      // grows to the ops of one step, then reused
  // This step's ops as time() tags them; collect() turns them into TimedOps.
  struct Tag {
    const char* name;
    const char* label;
    std::int64_t layer, micro_batch;
    Phase phase;
    double host_ns, host_gap_ns;
  };
  std::vector<Tag> ops_;
  std::chrono::steady_clock::time_point host_last_;  // when the last scope closed, or the step began
};

}  // namespace ecsim::runner
