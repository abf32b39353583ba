#include "runner/process_group.hpp"

#ifdef ECSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "cuda_check.hpp"

namespace ecsim::runner {

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

void ProcessGroup::connect() {
  int devices = 0;
  CUDA_CHECK(cudaGetDeviceCount(&devices));
  CUDA_CHECK(cudaSetDevice(rank_ % devices));
  if (size_ > 1) {
#ifdef ECSIM_HAVE_MPI
    ncclUniqueId id;
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
#endif
  }
}

ProcessGroup::~ProcessGroup() {
  if (comm_ != nullptr) ncclCommDestroy(comm_);
#ifdef ECSIM_HAVE_MPI
  if (mpi_initialized_here_) MPI_Finalize();
#endif
}

void ProcessGroup::all_reduce_sum(float* buffer, std::int64_t n, cudaStream_t stream) const {
  if (comm_ == nullptr) return;
  NCCL_CHECK(ncclAllReduce(buffer, buffer, static_cast<std::size_t>(n), ncclFloat32, ncclSum, comm_, stream));
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
