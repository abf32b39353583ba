// NCCL for the emulated device (README.md, "The emulated device"). Each process of a run is one
// emulated device whose memory is host memory and whose launches finish before they return, so
// NCCL's operations are MPI's on that memory, at once:
//   - a communicator is an MPI communicator: ncclCommInitRank duplicates MPI_COMM_WORLD (the
//     runner's NCCL ranks are its MPI ranks, process_group.cpp), ncclCommSplit is MPI_Comm_split;
//   - ncclAllReduce (fp32 sum, the runner's gradient sums) is MPI_Allreduce;
//   - ncclSend / ncclRecv between ncclGroupStart and ncclGroupEnd are posted as MPI_Irecv / MPI_Isend
//     at ncclGroupEnd and waited for there; MPI's non-overtaking order pairs several transfers
//     between two ranks in the order they were posted, as NCCL pairs them.
// Without MPI (ECSIM_HAVE_MPI unset) there is one process, which never calls NCCL
// (process_group.hpp), and every entry point throws. What NCCL does and this does not: streams
// (all is synchronous here), bf16 reductions, any other collective or reduction (they throw).
#include <nccl.h>

#include <cstring>
#include <string>
#include <vector>

#ifdef ECSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "emulation/emulation_error.hpp"

namespace {

[[noreturn]] void not_emulated(const std::string& what) {
  throw ecsim::emulation::EmulationError(what + ": not emulated (tests/emulation/nccl_emulated.cpp)");
}

}  // namespace

#ifdef ECSIM_HAVE_MPI

struct ncclComm {
  MPI_Comm mpi = MPI_COMM_NULL;
};

namespace {

// A point-to-point transfer posted inside a group, executed at ncclGroupEnd.
struct Transfer {
  bool send;
  void* buffer;
  int bytes;
  int peer;
  MPI_Comm comm;
};

int group_depth = 0;
std::vector<Transfer> pending;

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS) not_emulated(std::string(call) + " failed (MPI error " + std::to_string(rc) + ")");
}

void require_mpi(const char* call) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) not_emulated(std::string(call) + " without MPI initialized (run under mpirun)");
}

int element_bytes(ncclDataType_t t, const char* call) {
  switch (t) {
    case ncclFloat32: return 4;
    case ncclBfloat16: return 2;
    default: not_emulated(std::string(call) + " of NCCL data type " + std::to_string(static_cast<int>(t)));
  }
}

void run_transfers() {
  std::vector<MPI_Request> requests(pending.size());
  // Receives first, so that every send finds its match posted.
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Transfer& t = pending[i];
    if (!t.send) check_mpi(MPI_Irecv(t.buffer, t.bytes, MPI_BYTE, t.peer, 0, t.comm, &requests[i]), "MPI_Irecv");
  }
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Transfer& t = pending[i];
    if (t.send) check_mpi(MPI_Isend(t.buffer, t.bytes, MPI_BYTE, t.peer, 0, t.comm, &requests[i]), "MPI_Isend");
  }
  pending.clear();
  check_mpi(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
}

ncclResult_t post(bool send, const void* buffer, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
                  const char* call) {
  if (comm == nullptr) return ncclInvalidArgument;
  const size_t bytes = count * static_cast<size_t>(element_bytes(type, call));
  if (bytes > 2147483647u) not_emulated(std::string(call) + " of more than 2^31 bytes");
  pending.push_back({send, const_cast<void*>(buffer), static_cast<int>(bytes), peer, comm->mpi});
  if (group_depth == 0) run_transfers();
  return ncclSuccess;
}

}  // namespace

extern "C" {

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  // Any value: the communicator is MPI_COMM_WORLD's, which every process already shares.
  std::memset(id->internal, 0, sizeof id->internal);
  std::strncpy(id->internal, "ecsim emulated NCCL over MPI", sizeof id->internal - 1);
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId, int rank) {
  require_mpi("ncclCommInitRank");
  int size = 0, me = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  if (size != nranks || me != rank) {
    not_emulated("ncclCommInitRank(" + std::to_string(nranks) + " ranks, rank " + std::to_string(rank) +
                 ") other than MPI_COMM_WORLD's " + std::to_string(size) + " ranks, rank " + std::to_string(me));
  }
  auto* c = new ncclComm;
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi), "MPI_Comm_dup");
  *comm = c;
  return ncclSuccess;
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t*) {
  if (comm == nullptr) return ncclInvalidArgument;
  MPI_Comm out = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(comm->mpi, color == NCCL_SPLIT_NOCOLOR ? MPI_UNDEFINED : color, key, &out),
            "MPI_Comm_split");
  *newcomm = nullptr;
  if (out != MPI_COMM_NULL) *newcomm = new ncclComm{out};
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclGroupStart() {
  ++group_depth;
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
  if (group_depth == 0) return ncclInvalidUsage;
  if (--group_depth == 0) run_transfers();
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (type != ncclFloat32 || op != ncclSum) not_emulated("ncclAllReduce other than an fp32 sum");
  if (count > 2147483647u) not_emulated("ncclAllReduce of more than 2^31 elements");
  check_mpi(MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                          comm->mpi),
            "MPI_Allreduce");
  return ncclSuccess;
}

ncclResult_t ncclSend(const void* buffer, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t) {
  return post(true, buffer, count, type, peer, comm, "ncclSend");
}

ncclResult_t ncclRecv(void* buffer, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t) {
  return post(false, buffer, count, type, peer, comm, "ncclRecv");
}

}  // extern "C"

#else  // one process: no NCCL call is ever made

struct ncclComm {};

extern "C" {

ncclResult_t ncclGetUniqueId(ncclUniqueId*) { not_emulated("ncclGetUniqueId without MPI"); }
ncclResult_t ncclCommInitRank(ncclComm_t*, int, ncclUniqueId, int) { not_emulated("ncclCommInitRank without MPI"); }
ncclResult_t ncclCommSplit(ncclComm_t, int, int, ncclComm_t*, ncclConfig_t*) {
  not_emulated("ncclCommSplit without MPI");
}
ncclResult_t ncclCommDestroy(ncclComm_t) { not_emulated("ncclCommDestroy without MPI"); }
ncclResult_t ncclGroupStart() { not_emulated("ncclGroupStart without MPI"); }
ncclResult_t ncclGroupEnd() { not_emulated("ncclGroupEnd without MPI"); }
ncclResult_t ncclAllReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t) {
  not_emulated("ncclAllReduce without MPI");
}
ncclResult_t ncclSend(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t) {
  not_emulated("ncclSend without MPI");
}
ncclResult_t ncclRecv(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t) {
  not_emulated("ncclRecv without MPI");
}

}  // extern "C"

#endif  // ECSIM_HAVE_MPI

extern "C" const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument (emulated NCCL: a null communicator)";
    case ncclInvalidUsage: return "invalid usage (emulated NCCL: ncclGroupEnd without ncclGroupStart)";
    default: return "emulated NCCL error";
  }
}

// The profiler's collectives (profiles/profiler/collective_runs.cpp): one process over several
// devices, which the emulation never has (cudaGetDeviceCount says 1, so the profiler times none).
extern "C" {

ncclResult_t ncclGetVersion(int*) { not_emulated("ncclGetVersion (the profiler asks only with 2 or more devices)"); }
ncclResult_t ncclCommInitAll(ncclComm_t*, int, const int*) {
  not_emulated("ncclCommInitAll (one process over several devices)");
}
ncclResult_t ncclCommAbort(ncclComm_t) { not_emulated("ncclCommAbort (one process over several devices)"); }
ncclResult_t ncclAllGather(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t) {
  not_emulated("ncclAllGather");
}
ncclResult_t ncclReduceScatter(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t) {
  not_emulated("ncclReduceScatter");
}

}  // extern "C"
