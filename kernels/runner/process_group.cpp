#include "runner/process_group.hpp"

#include <algorithm>

#ifdef ECSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "cuda_check.hpp"
#include "cuda_device.hpp"
#include "precondition.hpp"

namespace ecsim::runner {
namespace {

#ifdef ECSIM_HAVE_MPI
// The communicator of the ranks in `members` (this rank among them), split from `world`: every
// process calls this together; color = the group's first rank, key = the position, so the new
// communicator's ranks follow `members`. A group of one gets no communicator (nothing to exchange).
ncclComm_t split(ncclComm_t world, const std::vector<int>& members, int rank) {
  ncclComm_t comm = nullptr;
  if (members.size() < 2) {
    NCCL_CHECK(ncclCommSplit(world, NCCL_SPLIT_NOCOLOR, 0, &comm, nullptr));
    return nullptr;
  }
  const auto at = std::find(members.begin(), members.end(), rank);
  require(at != members.end(), "ProcessGroup: rank " + std::to_string(rank) + " is not in its own group");
  NCCL_CHECK(ncclCommSplit(world, members.front(), static_cast<int>(at - members.begin()), &comm, nullptr));
  return comm;
}
#endif  // ECSIM_HAVE_MPI: without MPI there is one process and no communicator to split

}  // namespace

ProcessGroup::ProcessGroup(int* argc, char*** argv) {
#ifdef ECSIM_HAVE_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    MPI_Init(argc, argv);
    mpi_initialized_here_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
  (void)argc;
  (void)argv;
#endif
}

void ProcessGroup::connect(const RankGroups& groups) {
  require(groups.ep.size() >= 1 && groups.ep[static_cast<std::size_t>(groups.ep_rank)] == rank_,
          "ProcessGroup::connect: rank " + std::to_string(rank_) + " is not at its EP rank in its EP group");
  groups_ = groups;
  const int devices = require_cuda_devices();
  CUDA_CHECK(cudaSetDevice(rank_ % devices));
  if (size_ > 1) {
#ifdef ECSIM_HAVE_MPI
    ncclUniqueId id;
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    if (groups.ep.size() > 1) {
      ep_comm_ = split(comm_, groups.ep, rank_);
      expert_dp_comm_ = split(comm_, groups.expert_dp, rank_);
    }
#endif
  }
  require(ep_size() == 1 || ep_comm_ != nullptr,
          "ProcessGroup::connect: expert parallelism over " + std::to_string(ep_size()) +
              " ranks needs NCCL under mpirun (this build has no MPI, or one process was launched)");
}

ProcessGroup::~ProcessGroup() {
  // Destructors cannot throw: a failed destroy leaks only the communicator.
  if (expert_dp_comm_ != nullptr) ncclCommDestroy(expert_dp_comm_);
  if (ep_comm_ != nullptr) ncclCommDestroy(ep_comm_);
  if (comm_ != nullptr) ncclCommDestroy(comm_);
#ifdef ECSIM_HAVE_MPI
  if (mpi_initialized_here_) MPI_Finalize();
#endif
}

void ProcessGroup::all_reduce_sum(GradSlice buffer, const std::vector<GradRange>& ranges, cudaStream_t stream) const {
  if (comm_ == nullptr) return;
  const ncclDataType_t type = buffer.bf16 != nullptr ? ncclBfloat16 : ncclFloat32;
  // One NCCL group per communicator (every rank of it posts the same ranges in the same order).
  for (const GradReduce reduce : {GradReduce::kAllRanks, GradReduce::kExpertDataParallel}) {
    const ncclComm_t comm = reduce == GradReduce::kAllRanks ? comm_ : expert_dp_comm_;
    if (comm == nullptr) continue;
    NCCL_CHECK(ncclGroupStart());
    for (const GradRange& r : ranges) {
      if (r.reduce != reduce) continue;
      void* p = buffer.at(r.offset).data();
      NCCL_CHECK(ncclAllReduce(p, p, static_cast<std::size_t>(r.count), type, ncclSum, comm, stream));
    }
    NCCL_CHECK(ncclGroupEnd());
  }
}

void ProcessGroup::exchange_expert_rows(const __nv_bfloat16* send, __nv_bfloat16* recv, std::int64_t local_experts,
                                        std::int64_t chunk, Exchange direction, cudaStream_t stream) const {
  require(ep_comm_ != nullptr, "exchange_expert_rows: no expert-parallel communicator (ep = 1)");
  const std::int64_t ep = ep_size();
  const bool to_owners = direction == Exchange::kToOwners;
  const auto n = static_cast<std::size_t>(chunk);
  // Sends to a peer and receives from it are posted in local-expert order on both sides, which
  // is how NCCL pairs several transfers between two ranks.
  NCCL_CHECK(ncclGroupStart());
  for (std::int64_t j = 0; j < ep; ++j) {
    const int peer = static_cast<int>(j);
    for (std::int64_t e = 0; e < local_experts; ++e) {
      const std::int64_t by_peer = (j * local_experts + e) * chunk, by_expert = (e * ep + j) * chunk;
      NCCL_CHECK(ncclSend(send + (to_owners ? by_peer : by_expert), n, ncclBfloat16, peer, ep_comm_, stream));
      NCCL_CHECK(ncclRecv(recv + (to_owners ? by_expert : by_peer), n, ncclBfloat16, peer, ep_comm_, stream));
    }
  }
  NCCL_CHECK(ncclGroupEnd());
}

double ProcessGroup::max_over_ranks(double v) const {
#ifdef ECSIM_HAVE_MPI
  if (size_ > 1) {
    double out = v;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }
#endif
  return v;
}

}  // namespace ecsim::runner
