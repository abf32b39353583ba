// Collective communication costs over the cluster hierarchy (NVLink domain, then network), in
// the manner of NCCL's own model (src/graph/tuning.cc: time = latency * steps + bytes / bandwidth
// per algorithm and protocol, the cheapest chosen). A collective is returned as a plan: a fixed
// latency and a sequence of phases, each moving some bytes through one tier's port of a rank at
// the bandwidth the algorithm reaches alone. The event engine runs the phases and shares a tier's
// bandwidth between transfers that overlap on it. Constants and their sources: comm_constants.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "hardware/cluster.hpp"

namespace ecsim {

enum class CollectiveKind { kAllReduce, kAllGather, kReduceScatter, kAllToAll, kSendRecv };
// NCCL's algorithms: kRing and kTree (double binary tree between nodes, a chain inside one),
// kNvls (NVLink SHARP reduction in the NVSwitch, one node), kHierarchical (NCCL's NVLS_TREE:
// NVLS inside each node, a tree between nodes), kDirect (point-to-point: send/recv, all-to-all).
enum class Algorithm { kRing, kTree, kNvls, kDirect, kHierarchical };
// NCCL's protocols: LL (8-byte flag+data stores, lowest latency), LL128, Simple (full bandwidth).
enum class Protocol { kLl, kLl128, kSimple };
enum class Tier { kNvlink, kNetwork };
constexpr int kTierCount = 2;
constexpr int kProtocolCount = 3;

const char* collective_name(CollectiveKind k);  // "all_reduce", "all_gather", ... "p2p" (result JSON keys)
const char* algorithm_name(Algorithm a);        // "ring", "tree", "nvls", "direct", "nvls_tree"
const char* protocol_name(Protocol p);          // "LL", "LL128", "Simple" (NCCL's spelling)
const char* tier_name(Tier t);                  // "nvlink", "network"

// Where the ranks of a communicator sit: `ranks` in all, `ranks_per_node` of them in each node
// (1 for a group strided across nodes, e.g. data parallel over TP=8 nodes).
struct CommGroup {
  std::int64_t ranks = 1;
  std::int64_t ranks_per_node = 1;
  // Nodes the group touches (a last node may be partly filled).
  std::int64_t nodes() const { return (ranks + ranks_per_node - 1) / ranks_per_node; }
};

struct CommPhase {
  Tier tier = Tier::kNvlink;
  Bytes bytes;                // through one rank's port of this tier, in one direction
  BytesPerSecond bandwidth;   // the rate those bytes move at when nothing else uses the tier
  // True when this phase runs at the same time as the one before it: a pipelined ring or tree
  // that spans nodes keeps NVLink and the NICs busy together, as does an all-to-all.
  bool overlaps_previous = false;
};

struct CollectivePlan {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  Algorithm algorithm = Algorithm::kRing;
  Protocol protocol = Protocol::kSimple;
  Seconds latency;                // fixed part: launch, steps x hop latency
  std::vector<CommPhase> phases;  // stages run one after the other; a stage is a phase and the
                                  // phases after it marked overlaps_previous
  // latency + sum over stages of the slowest phase's bytes / bandwidth (a stage of one phase:
  // bytes / bandwidth, so plans without overlap cost latency + sum of bytes / bandwidth).
  Seconds time_alone() const;
  Bytes bytes_on(Tier t) const;
};

// `buffer` follows nccl-tests' convention: the per-rank buffer size (all-reduce: the whole
// tensor; all-gather: the output; reduce-scatter: the input; all-to-all: what a rank sends in all;
// send/recv: the message). One rank or zero bytes cost nothing (no phases, zero latency).
CollectivePlan plan_collective(const ClusterSpec& cluster, CollectiveKind kind, Bytes buffer, const CommGroup& group);

// Every algorithm x protocol NCCL would weigh for this call, each priced; plan_collective returns
// the first of the cheapest (by time_alone), as NCCL's getAlgoInfo does.
std::vector<CollectivePlan> collective_candidates(const ClusterSpec& cluster, CollectiveKind kind, Bytes buffer,
                                                  const CommGroup& group);

// All-to-all with per-peer sizes (alltoallv): send[j] is what this rank sends to group rank j
// (send[me] stays local); the slowest of send and receive sides sets the time, so pass the
// larger of the two rows where they differ. Group ranks fill nodes in order (rank j on node
// j / ranks_per_node).
CollectivePlan plan_alltoallv(const ClusterSpec& cluster, const std::vector<Bytes>& send, std::int64_t me,
                              const CommGroup& group);

// The whole exchange: matrix[i][j] is what rank i sends to rank j. Every rank waits for the
// busiest one, so each tier carries the largest send or receive total any rank has on it.
CollectivePlan plan_alltoallv(const ClusterSpec& cluster, const std::vector<std::vector<Bytes>>& matrix,
                              const CommGroup& group);

// nccl-tests' bus bandwidth for a measured or predicted time: algbw x 2(n-1)/n for all-reduce,
// x (n-1)/n for all-gather, reduce-scatter and all-to-all, x 1 for send/recv.
BytesPerSecond bus_bandwidth(CollectiveKind kind, Bytes buffer, std::int64_t ranks, Seconds time);

}  // namespace ecsim
