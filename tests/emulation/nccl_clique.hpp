// NCCL in one process over several emulated devices (ncclCommInitAll, as the profiler's
// collectives run: profiles/profiler/collective_runs.cpp). The ranks of one ncclCommInitAll form a
// clique. Their calls, made between ncclGroupStart and ncclGroupEnd, are recorded in call order and
// carried out together at the group's end, once every rank has made its part: the k-th collective of
// each rank is one collective, and the sends from rank r to rank p pair with p's receives from r in
// order, as NCCL pairs them. Each is checked the way NCCL would hang or fail: a rank missing its
// part, parts that disagree in kind, count or type, a buffer outside its cudaMalloc allocation.
// Reductions are fp32 or bf16 sums, added in rank order in fp32 (bf16 rounded once, at the end).
// nccl_emulated.cpp's entry points dispatch here for these communicators.
#pragma once

#include <nccl.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace ecsim::emulation {

struct Clique;

// One rank of a clique: what an ncclComm of ncclCommInitAll holds.
struct CliqueRank {
  std::shared_ptr<Clique> clique;
  int rank = 0;
};

// The ranks of a new clique of `ranks` (>= 1) ranks, rank r at index r.
std::vector<CliqueRank> make_clique(int ranks);

enum class CliqueCall { kAllReduce, kAllGather, kReduceScatter, kSend, kRecv };

// One rank's part of a call. `count` is NCCL's: elements per rank (all-reduce), sent by each rank
// (all-gather), received by each rank (reduce-scatter), or moved (send, receive).
struct CliqueOp {
  CliqueCall call;
  const void* send = nullptr;  // all but kRecv
  void* recv = nullptr;        // all but kSend
  std::size_t count = 0;
  ncclDataType_t type = ncclFloat32;  // ncclFloat32 or ncclBfloat16
  int peer = -1;                      // kSend and kRecv
};

// Records `op` of `at` for the group in progress. Throws EmulationError when no group is (a call
// of one rank alone would wait for the others forever), for a type other than fp32 or bf16, and
// for a peer outside the clique.
void record_clique_op(const CliqueRank& at, const CliqueOp& op, bool in_group, const char* call);

// Carries out every recorded op, then forgets them. Throws EmulationError naming the first
// mismatch; nothing of the group is done then.
void run_clique_group();

}  // namespace ecsim::emulation
