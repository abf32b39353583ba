// The processes of a run: one per GPU, started by mpirun (rank and size from MPI), talking over
// NCCL (the world communicator's id is broadcast over MPI; the expert-parallel and expert-DP
// communicators are split from it with ncclCommSplit, so their ranks are expert_parallel.hpp's
// lists in that order). Without MPI, or under a plain launch, one process on device 0 and no NCCL
// at all. Data parallelism sums the gradient ranges (expert_parallel.hpp's grad_sync_plan) with
// all-reduces; expert parallelism moves expert rows with grouped ncclSend / ncclRecv.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nccl_check.hpp"
#include "runner/expert_parallel.hpp"
#include "runner/grad_slice.hpp"

namespace ecsim::runner {

class ProcessGroup {
 public:
  // Reads MPI's rank and size (initializing MPI) when built with it. Touches no GPU, so that bad
  // input is reported (exit 2) on any machine.
  ProcessGroup(int* argc, char*** argv);
  // Selects the device rank % devices and, with more than one process, creates the world NCCL
  // communicator, then (ep > 1) the EP and expert-DP ones of `groups` (rank_groups of this rank).
  void connect(const RankGroups& groups);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int ep_size() const { return static_cast<int>(groups_.ep.size()); }
  int ep_rank() const { return groups_.ep_rank; }
  // Sums each range of `buffer` over its group, in place (kAllRanks: every process; kExpertDataParallel:
  // the expert-DP group), in the buffer's dtype (NCCL sums bf16 gradients in bf16); a no-op for one
  // process.
  void all_reduce_sum(GradSlice buffer, const std::vector<GradRange>& ranges, cudaStream_t stream) const;

  // Expert rows within the EP group, `chunk` elements per (EP peer j, local expert e) pair, peers
  // in EP-rank order:
  //   kToOwners   send [ep][local][chunk] (rows for peer j's experts)  ->  recv [local][ep][chunk] (rows from peer j)
  //   kFromOwners send [local][ep][chunk]                              ->  recv [ep][local][chunk]
  // so the expert-major rows of every rank's routing land expert-major at their owner, each local
  // expert's rows from all peers contiguous (one strided-batched GEMM), and come back the same way.
  enum class Exchange { kToOwners, kFromOwners };
  void exchange_expert_rows(const __nv_bfloat16* send, __nv_bfloat16* recv, std::int64_t local_experts,
                            std::int64_t chunk, Exchange direction, cudaStream_t stream) const;

  // The largest of a host value over all processes (step times: the slowest rank sets the step).
  double max_over_ranks(double v) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  bool mpi_initialized_here_ = false;
  RankGroups groups_{{0}, {0}, 0};  // one process: its own EP and expert-DP group
  ncclComm_t comm_ = nullptr;       // every process
  ncclComm_t ep_comm_ = nullptr;    // the EP group (ep > 1)
  ncclComm_t expert_dp_comm_ = nullptr;  // the expert-DP group (ep > 1 and dp / ep > 1)
};

}  // namespace ecsim::runner
