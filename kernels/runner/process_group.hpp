// The processes of a run: one per GPU, started by mpirun (rank and size from MPI), talking over
// NCCL (the communicator's id is broadcast over MPI). Without MPI, or under a plain launch, one
// process on device 0. Data parallelism sums the flat fp32 gradient buffer with one all-reduce.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace ecsim::runner {

struct NcclError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void nccl_check(ncclResult_t r, const char* expression, const char* file, int line) {
  if (r != ncclSuccess) {
    throw NcclError(std::string(expression) + " at " + file + ":" + std::to_string(line) + ": ncclResult " +
                    std::to_string(static_cast<int>(r)) + " (" + ncclGetErrorString(r) + ")");
  }
}

}  // namespace ecsim::runner

#define NCCL_CHECK(expr) ::ecsim::runner::nccl_check((expr), #expr, __FILE__, __LINE__)

namespace ecsim::runner {

class ProcessGroup {
 public:
  // Reads MPI's rank and size (initializing MPI) when built with it. Touches no GPU, so that bad
  // input is reported (exit 2) on any machine.
  ProcessGroup(int* argc, char*** argv);
  // Selects the device rank % devices and creates the NCCL communicator when there is more than
  // one process.
  void connect();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Sum over all processes, in place; a no-op for one process.
  void all_reduce_sum(float* buffer, std::int64_t n, cudaStream_t stream) const;
  // The largest of a host value over all processes (step times: the slowest rank sets the step).
  double max_over_ranks(double v) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  bool mpi_initialized_here_ = false;
  ncclComm_t comm_ = nullptr;
};

}  // namespace ecsim::runner
