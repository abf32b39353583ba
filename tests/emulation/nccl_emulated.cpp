// NCCL for the emulated device (README.md, "The emulated device"). Memory is host memory and
// launches finish before they return, so NCCL's operations happen at once, on that memory, with
// communicators of two kinds:
//   - one process per device, under mpirun (the runner: process_group.cpp): a communicator is an
//     MPI communicator. ncclCommInitRank duplicates MPI_COMM_WORLD (the runner's NCCL ranks are its
//     MPI ranks), ncclCommSplit is MPI_Comm_split, ncclAllReduce (fp32 or bf16 sum, the runner's
//     gradient sums; bf16 through a user MPI_Op adding in fp32 and rounding each sum, as NCCL's
//     reductions do) is MPI_Allreduce, and ncclSend / ncclRecv between ncclGroupStart and ncclGroupEnd are
//     posted as MPI_Irecv / MPI_Isend at ncclGroupEnd and waited for there (MPI's non-overtaking
//     order pairs several transfers between two ranks in the order they were posted, as NCCL pairs
//     them). Without MPI (ECSIM_HAVE_MPI unset) ncclCommInitRank throws;
//   - one process over several devices (ncclCommInitAll, the profiler's collectives; devices from
//     ECSIM_EMULATED_DEVICES): a clique, whose calls nccl_clique.cpp records and carries out at
//     ncclGroupEnd: all-reduce, all-gather, reduce-scatter (fp32 or bf16 sums), send and receive.
// What NCCL does and this does not: streams (all is synchronous here), and any other collective,
// reduction or data type (they throw).
#include <cuda_bf16.h>
#include <nccl.h>

#include <cstring>
#include <string>
#include <vector>

#ifdef ECSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "emulation/emulation_error.hpp"
#include "emulation/nccl_clique.hpp"

namespace emu = ecsim::emulation;

struct ncclComm {
  emu::CliqueRank clique;  // ncclCommInitAll's; no clique for an MPI communicator
#ifdef ECSIM_HAVE_MPI
  MPI_Comm mpi = MPI_COMM_NULL;
#endif
};

namespace {

[[noreturn]] void not_emulated(const std::string& what) {
  throw emu::EmulationError(what + ": not emulated (tests/emulation/nccl_emulated.cpp)");
}

int group_depth = 0;

bool in_clique(ncclComm_t comm) { return comm->clique.clique != nullptr; }

ncclResult_t record(ncclComm_t comm, const emu::CliqueOp& op, const char* call) {
  emu::record_clique_op(comm->clique, op, group_depth > 0, call);
  return ncclSuccess;
}

#ifdef ECSIM_HAVE_MPI

// A point-to-point transfer posted inside a group, executed at ncclGroupEnd.
struct Transfer {
  bool send;
  void* buffer;
  int bytes;
  int peer;
  MPI_Comm comm;
};

std::vector<Transfer> pending;

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS) not_emulated(std::string(call) + " failed (MPI error " + std::to_string(rc) + ")");
}

// MPI_Op for bf16 sums (MPI has no bf16 type: 2-byte elements as MPI_UINT16_T): inout[i] =
// bf16(float(in[i]) + float(inout[i])).
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const __nv_bfloat16*>(in);
  auto* b = static_cast<__nv_bfloat16*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = __float2bfloat16(__bfloat162float(a[i]) + __bfloat162float(b[i]));
}

MPI_Op bf16_sum_op() {
  static const MPI_Op op = [] {
    MPI_Op made = MPI_OP_NULL;
    check_mpi(MPI_Op_create(&bf16_sum, 1, &made), "MPI_Op_create");
    return made;
  }();
  return op;
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
  if (pending.empty()) return;  // a group of a clique's calls alone, MPI perhaps not started
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
  const size_t bytes = count * static_cast<size_t>(element_bytes(type, call));
  if (bytes > 2147483647u) not_emulated(std::string(call) + " of more than 2^31 bytes");
  pending.push_back({send, const_cast<void*>(buffer), static_cast<int>(bytes), peer, comm->mpi});
  if (group_depth == 0) run_transfers();
  return ncclSuccess;
}

#else  // one process: only cliques

void run_transfers() {}

[[noreturn]] void require_mpi(const char* call) { not_emulated(std::string(call) + " without MPI"); }

#endif  // ECSIM_HAVE_MPI

ncclResult_t point_to_point(bool send, const void* buffer, size_t count, ncclDataType_t type, int peer,
                            ncclComm_t comm, const char* call) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (in_clique(comm)) {
    emu::CliqueOp op{send ? emu::CliqueCall::kSend : emu::CliqueCall::kRecv};
    if (send) {
      op.send = buffer;
    } else {
      op.recv = const_cast<void*>(buffer);
    }
    op.count = count;
    op.type = type;
    op.peer = peer;
    return record(comm, op, call);
  }
#ifdef ECSIM_HAVE_MPI
  return post(send, buffer, count, type, peer, comm, call);
#else
  not_emulated(std::string(call) + " on a communicator of no clique");
#endif
}

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  *version = NCCL_VERSION_CODE;  // the headers'
  return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  // Any value: the communicator is MPI_COMM_WORLD's, which every process already shares.
  std::memset(id->internal, 0, sizeof id->internal);
  std::strncpy(id->internal, "ecsim emulated NCCL over MPI", sizeof id->internal - 1);
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank([[maybe_unused]] ncclComm_t* comm, [[maybe_unused]] int nranks, ncclUniqueId,
                              [[maybe_unused]] int rank) {
  require_mpi("ncclCommInitRank");
#ifdef ECSIM_HAVE_MPI
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
#endif
}

// One communicator per device of `devlist` (or devices 0 to ndev - 1), which must exist.
ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  int devices = 0;
  cudaGetDeviceCount(&devices);
  if (ndev < 1) return ncclInvalidArgument;
  for (int r = 0; r < ndev; ++r) {
    const int d = devlist != nullptr ? devlist[r] : r;
    if (d < 0 || d >= devices) {
      not_emulated("ncclCommInitAll over device " + std::to_string(d) + " of " + std::to_string(devices) +
                   " (ECSIM_EMULATED_DEVICES sets how many there are)");
    }
  }
  const std::vector<emu::CliqueRank> ranks = emu::make_clique(ndev);
  for (int r = 0; r < ndev; ++r) comms[r] = new ncclComm{ranks[static_cast<std::size_t>(r)]};
  return ncclSuccess;
}

ncclResult_t ncclCommSplit(ncclComm_t comm, [[maybe_unused]] int color, [[maybe_unused]] int key,
                           [[maybe_unused]] ncclComm_t* newcomm, ncclConfig_t*) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (in_clique(comm)) not_emulated("ncclCommSplit of an ncclCommInitAll communicator");
#ifdef ECSIM_HAVE_MPI
  MPI_Comm out = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(comm->mpi, color == NCCL_SPLIT_NOCOLOR ? MPI_UNDEFINED : color, key, &out),
            "MPI_Comm_split");
  *newcomm = nullptr;
  if (out != MPI_COMM_NULL) {
    *newcomm = new ncclComm;
    (*newcomm)->mpi = out;
  }
  return ncclSuccess;
#else
  not_emulated("ncclCommSplit without MPI");
#endif
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
#ifdef ECSIM_HAVE_MPI
  if (!in_clique(comm)) MPI_Comm_free(&comm->mpi);
#endif
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

ncclResult_t ncclGroupStart() {
  ++group_depth;
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
  if (group_depth == 0) return ncclInvalidUsage;
  if (--group_depth == 0) {
    run_transfers();
    emu::run_clique_group();
  }
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (op != ncclSum) not_emulated("ncclAllReduce other than a sum");
  if (in_clique(comm)) return record(comm, {emu::CliqueCall::kAllReduce, send, recv, count, type}, "ncclAllReduce");
#ifdef ECSIM_HAVE_MPI
  if (type != ncclFloat32 && type != ncclBfloat16) {
    not_emulated("ncclAllReduce over MPI other than an fp32 or bf16 sum");
  }
  if (count > 2147483647u) not_emulated("ncclAllReduce of more than 2^31 elements");
  const bool bf16 = type == ncclBfloat16;
  check_mpi(MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, static_cast<int>(count),
                          bf16 ? MPI_UINT16_T : MPI_FLOAT, bf16 ? bf16_sum_op() : MPI_SUM, comm->mpi),
            "MPI_Allreduce");
  return ncclSuccess;
#else
  not_emulated("ncclAllReduce on a communicator of no clique");
#endif
}

ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, ncclDataType_t type, ncclComm_t comm,
                           cudaStream_t) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (!in_clique(comm)) not_emulated("ncclAllGather over MPI");
  return record(comm, {emu::CliqueCall::kAllGather, send, recv, count, type}, "ncclAllGather");
}

ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                               ncclComm_t comm, cudaStream_t) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (op != ncclSum) not_emulated("ncclReduceScatter other than a sum");
  if (!in_clique(comm)) not_emulated("ncclReduceScatter over MPI");
  return record(comm, {emu::CliqueCall::kReduceScatter, send, recv, count, type}, "ncclReduceScatter");
}

ncclResult_t ncclSend(const void* buffer, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t) {
  return point_to_point(true, buffer, count, type, peer, comm, "ncclSend");
}

ncclResult_t ncclRecv(void* buffer, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t) {
  return point_to_point(false, buffer, count, type, peer, comm, "ncclRecv");
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument (emulated NCCL: a null communicator, or no device)";
    case ncclInvalidUsage: return "invalid usage (emulated NCCL: ncclGroupEnd without ncclGroupStart)";
    default: return "emulated NCCL error";
  }
}

}  // extern "C"
