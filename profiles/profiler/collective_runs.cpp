// NCCL collectives over the visible GPUs of one process (collective_runs.hpp).
#include "profiler/collective_runs.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <numeric>

#include "core/units.hpp"
#include "cuda_check.hpp"
#include "profiler/device_buffers.hpp"
#include "nccl_check.hpp"

namespace ecsim::profiler {
namespace {

constexpr std::uint64_t kSeed = 0xC011EC71ull;

// One non-blocking stream on each of the first `devices` GPUs.
class DeviceStreams {
 public:
  explicit DeviceStreams(int devices) : streams_(static_cast<std::size_t>(devices), nullptr) {
    for (int d = 0; d < devices; ++d) {
      CUDA_CHECK(cudaSetDevice(d));
      CUDA_CHECK(cudaStreamCreateWithFlags(&streams_[static_cast<std::size_t>(d)], cudaStreamNonBlocking));
    }
    CUDA_CHECK(cudaSetDevice(0));
  }
  DeviceStreams(const DeviceStreams&) = delete;
  DeviceStreams& operator=(const DeviceStreams&) = delete;
  ~DeviceStreams() {
    for (cudaStream_t s : streams_) {
      if (s != nullptr) cudaStreamDestroy(s);
    }
  }
  cudaStream_t operator[](std::size_t d) const { return streams_[d]; }
  void synchronize(std::size_t devices) const {
    for (std::size_t d = 0; d < devices; ++d) CUDA_CHECK(cudaStreamSynchronize(streams_[d]));
  }

 private:
  std::vector<cudaStream_t> streams_;
};

// One communicator per rank over the first n devices (ncclCommInitAll, single process). Aborted
// rather than destroyed after a failure, which a destroy could wait on forever.
class Communicators {
 public:
  explicit Communicators(int ranks) : comms_(static_cast<std::size_t>(ranks), nullptr) {
    std::vector<int> devices(static_cast<std::size_t>(ranks));
    std::iota(devices.begin(), devices.end(), 0);
    NCCL_CHECK(ncclCommInitAll(comms_.data(), ranks, devices.data()));
    CUDA_CHECK(cudaSetDevice(0));
  }
  Communicators(const Communicators&) = delete;
  Communicators& operator=(const Communicators&) = delete;
  ~Communicators() {
    for (ncclComm_t c : comms_) {
      if (c == nullptr) continue;
      if (failed_) {
        ncclCommAbort(c);
      } else {
        ncclCommDestroy(c);
      }
    }
  }
  ncclComm_t operator[](std::size_t r) const { return comms_[r]; }
  void mark_failed() { failed_ = true; }

 private:
  std::vector<ncclComm_t> comms_;
  bool failed_ = false;
};

// A send and a receive buffer on each device, `bytes` each; the send buffers random fp32 in [0, 1).
struct RankBuffers {
  std::vector<DeviceAllocation> send, recv;
  RankBuffers(int devices, std::size_t bytes, const DeviceStreams& streams) {
    for (int d = 0; d < devices; ++d) {
      const auto i = static_cast<std::size_t>(d);
      CUDA_CHECK(cudaSetDevice(d));
      send.emplace_back(bytes);
      recv.emplace_back(bytes);
      fill_uniform_fp32(send.back().get(), bytes / sizeof(float), kSeed + i, streams[i]);
      CUDA_CHECK(cudaStreamSynchronize(streams[i]));
    }
    CUDA_CHECK(cudaSetDevice(0));
  }
};

ncclDataType_t nccl_type(CollectiveKind kind) { return collective_dtype_bytes(kind) == 4 ? ncclFloat32 : ncclBfloat16; }

char* at(const DeviceAllocation& a, std::size_t byte_offset) { return a.as<char>() + byte_offset; }

// Every rank's part of one collective, as one NCCL group; leaves device 0 current (the timer's).
void enqueue(const PlannedCollective& c, const Communicators& comms, const DeviceStreams& streams,
             const RankBuffers& buffers) {
  const auto n = static_cast<std::size_t>(c.ranks);
  const std::size_t elem = collective_dtype_bytes(c.kind);
  const std::size_t count = static_cast<std::size_t>(c.bytes) / elem;  // the per-rank buffer, in elements
  const std::size_t share = count / n;                                  // one rank's part of it
  const ncclDataType_t type = nccl_type(c.kind);
  NCCL_CHECK(ncclGroupStart());
  for (std::size_t r = 0; r < n; ++r) {
    const void* send = buffers.send[r].get();
    void* recv = buffers.recv[r].get();
    switch (c.kind) {
      case CollectiveKind::kAllReduce:
        NCCL_CHECK(ncclAllReduce(send, recv, count, type, ncclSum, comms[r], streams[r]));
        break;
      case CollectiveKind::kAllGather:  // `bytes` is the gathered output
        NCCL_CHECK(ncclAllGather(send, recv, share, type, comms[r], streams[r]));
        break;
      case CollectiveKind::kReduceScatter:  // `bytes` is the input
        NCCL_CHECK(ncclReduceScatter(send, recv, share, type, ncclSum, comms[r], streams[r]));
        break;
      case CollectiveKind::kAllToAll:  // `bytes` is what a rank sends in all, `share` to each rank
        for (std::size_t p = 0; p < n; ++p) {
          const auto peer = static_cast<int>(p);
          NCCL_CHECK(ncclSend(at(buffers.send[r], p * share * elem), share, type, peer, comms[r], streams[r]));
          NCCL_CHECK(ncclRecv(at(buffers.recv[r], p * share * elem), share, type, peer, comms[r], streams[r]));
        }
        break;
      case CollectiveKind::kSendRecv:
        break;  // never planned (collective_sweep.cpp)
    }
  }
  NCCL_CHECK(ncclGroupEnd());
  CUDA_CHECK(cudaSetDevice(0));
}

std::string entry_text(const PlannedCollective& c) {
  return std::string(collective_name(c.kind)) + " " + std::to_string(c.ranks) + " ranks " +
         format_bytes(Bytes{double(c.bytes)}, 4);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string nccl_version() {
  int v = 0;
  NCCL_CHECK(ncclGetVersion(&v));
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

CollectiveSweepResult measure_collectives(const std::vector<PlannedCollective>& plan, const TimingMethod& method,
                                          const std::function<bool()>& out_of_time, std::ostream& log) {
  CollectiveSweepResult result;
  if (plan.empty()) return result;
  std::int64_t devices = 0, largest = 0;
  for (const PlannedCollective& c : plan) {
    devices = std::max(devices, c.ranks);
    largest = std::max(largest, c.bytes);
  }
  std::size_t i = 0;
  try {
    const DeviceStreams streams(static_cast<int>(devices));
    const RankBuffers buffers(static_cast<int>(devices), static_cast<std::size_t>(largest), streams);
    EventTimer timer(streams[0], method.max_samples);  // device 0: its events and hold kernel
    while (i < plan.size()) {
      const std::int64_t ranks = plan[i].ranks;
      const auto t0 = std::chrono::steady_clock::now();
      Communicators comms(static_cast<int>(ranks));
      log << "  collectives over " << ranks << " GPUs: communicators ready in " << std::fixed << std::setprecision(1)
          << seconds_since(t0) << " s\n"
          << std::flush;
      for (; i < plan.size() && plan[i].ranks == ranks; ++i) {
        if (out_of_time()) {
          result.not_started = plan.size() - i;
          return result;
        }
        try {
          streams.synchronize(static_cast<std::size_t>(ranks));
          const Timing t = timer.time(1, method, [&](int) { enqueue(plan[i], comms, streams, buffers); });
          streams.synchronize(static_cast<std::size_t>(ranks));
          result.measured.push_back({plan[i], t});
        } catch (...) {
          comms.mark_failed();
          throw;
        }
      }
    }
  } catch (const CudaError& e) {
    result.failure = (i < plan.size() ? entry_text(plan[i]) + ": " : std::string()) + e.what();
  } catch (const NcclError& e) {
    result.failure = (i < plan.size() ? entry_text(plan[i]) + ": " : std::string()) + e.what();
  }
  return result;
}

}  // namespace ecsim::profiler
