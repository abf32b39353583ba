#include "runner/op_timer.hpp"

#include <exception>

#include "cuda_check.hpp"

namespace ecsim::runner {
namespace {

constexpr double kNanosPerMilli = 1e6;  // cudaEventElapsedTime reports milliseconds

double elapsed_ns(cudaEvent_t from, cudaEvent_t to) {
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, from, to));
  return static_cast<double>(ms) * kNanosPerMilli;
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kForward: return "forward";
    case Phase::kBackward: return "backward";
    case Phase::kOptimizer: return "optimizer";
  }
  return "forward";
}

OpTimer::OpTimer(cudaStream_t stream) : stream_(stream) {
  CUDA_CHECK(cudaEventCreate(&step_start_));
  CUDA_CHECK(cudaEventCreate(&step_stop_));
}

OpTimer::~OpTimer() {
  // Destructors cannot throw; a failure to destroy an event leaks only that event.
  for (const Slot& s : slots_) {
    cudaEventDestroy(s.start);
    cudaEventDestroy(s.stop);
  }
  cudaEventDestroy(step_start_);
  cudaEventDestroy(step_stop_);
}

void OpTimer::begin_step() {
  ops_.clear();
  CUDA_CHECK(cudaEventRecord(step_start_, stream_));
  host_last_ = std::chrono::steady_clock::now();
}

void OpTimer::end_step() { CUDA_CHECK(cudaEventRecord(step_stop_, stream_)); }

OpTimer::Scope OpTimer::time(const char* name, const char* label, std::int64_t layer, std::int64_t micro_batch,
                             Phase phase) {
  const std::size_t index = ops_.size();
  if (index == slots_.size()) {
    Slot s;
    CUDA_CHECK(cudaEventCreate(&s.start));
    CUDA_CHECK(cudaEventCreate(&s.stop));
    slots_.push_back(s);
  }
  ops_.push_back({name, label, layer, micro_batch, phase, 0, 0});
  slots_[index].host_start = std::chrono::steady_clock::now();
  // The gap holds the bookkeeping above: from the last scope's close to this one's open.
  ops_[index].host_gap_ns = static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(slots_[index].host_start - host_last_).count());
  CUDA_CHECK(cudaEventRecord(slots_[index].start, stream_));
  return Scope(this, index);
}

OpTimer::Scope::~Scope() noexcept(false) {
  // While an op's own error unwinds the stack, a second throw would terminate: that error is the one to report.
  if (std::uncaught_exceptions() > 0) return;
  CUDA_CHECK(cudaEventRecord(timer_->slots_[index_].stop, timer_->stream_));
  timer_->host_last_ = std::chrono::steady_clock::now();
  const auto host =
      std::chrono::duration_cast<std::chrono::nanoseconds>(timer_->host_last_ - timer_->slots_[index_].host_start);
  timer_->ops_[index_].host_ns = static_cast<double>(host.count());
}

std::vector<TimedOp> OpTimer::collect() const {
  CUDA_CHECK(cudaEventSynchronize(step_stop_));
  std::vector<TimedOp> out;
  out.reserve(ops_.size());
  for (const Tag& t : ops_) {
    out.push_back({t.name, t.label, t.layer, t.micro_batch, t.phase, 0, 0, t.host_ns, t.host_gap_ns});
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].start_ns = elapsed_ns(step_start_, slots_[i].start);
    out[i].time_ns = elapsed_ns(slots_[i].start, slots_[i].stop);
  }
  return out;
}

double OpTimer::step_seconds() const {
  CUDA_CHECK(cudaEventSynchronize(step_stop_));
  return elapsed_ns(step_start_, step_stop_) / 1e9;
}

}  // namespace ecsim::runner
