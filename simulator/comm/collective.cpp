// Collectives priced the way NCCL's tuning.cc prices them (latency + bytes / bandwidth per
// algorithm and protocol, the cheapest wins), with the bytes stated per tier so that the event
// engine can share NVLink and NIC ports between overlapping transfers. Per rank and direction,
// with S the buffer, n ranks, p per node and m nodes:
//   ring:      2(n-1)/n S (all-reduce) or (n-1)/n S (all-gather, reduce-scatter); across nodes
//              (p-1)/p of it over NVLink and 1/p over the rank's NIC, pipelined together
//   tree:      2S (up and down; NCCL's algbw = busbw / 2): a chain over NVLink, and between
//              nodes a double binary tree, 2S/p per NIC (S/p with two nodes, where it is one edge)
//   NVLS:      S(n+1)/n over NVLink (the switch pulls S out and returns S/n, then multicasts)
//   NVLS tree: NVLS inside the node, the tree's bytes per NIC between nodes
//   direct:    each peer's bytes over NVLink or the network, all peers at once
#include "comm/collective.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "comm/comm_constants.hpp"
#include "core/errors.hpp"

namespace ecsim {
namespace {

// The communicator as NCCL's model sees it: n ranks, p per node, m nodes.
struct Span {
  std::int64_t n = 1;
  std::int64_t p = 1;
  std::int64_t m = 1;
  bool multi_node() const { return m > 1; }
  double ranks_per_node() const { return static_cast<double>(n) / static_cast<double>(m); }
};

// A group that does not fit the cluster is a bug in whoever placed it (parallel/layout_plan.cpp).
Span check_group(const ClusterSpec& c, const CommGroup& g) {
  const auto fail = [&](const std::string& why) {
    throw RuntimeFailure("collective: group of " + std::to_string(g.ranks) + " ranks, " +
                         std::to_string(g.ranks_per_node) + " per node, on " + c.name + ": " + why);
  };
  if (g.ranks < 1 || g.ranks_per_node < 1) fail("needs at least one rank, and one per node");
  Span s;
  s.n = g.ranks;
  s.p = std::min(g.ranks_per_node, g.ranks);
  s.m = (s.n + s.p - 1) / s.p;
  if (s.p > c.gpus_per_node) fail("more ranks per node than the " + std::to_string(c.gpus_per_node) + " GPUs of a node");
  if (s.m > std::max<std::int64_t>(1, c.nodes())) fail("spans more nodes than the cluster's " + std::to_string(c.nodes()));
  if (s.multi_node() && c.network.nics_per_node < 1) fail("spans nodes but the cluster has no network");
  return s;
}

BytesPerSecond scaled(BytesPerSecond b, double k) { return {b.value * k}; }

BytesPerSecond nvlink_rate(const ClusterSpec& c) {
  return scaled(c.nvlink.bandwidth, nvlink_ring_efficiency(nvlink_generation(c.gpu)));
}

BytesPerSecond nvls_rate(const ClusterSpec& c) { return scaled(c.nvlink.bandwidth, nvls_efficiency()); }

// Where the traffic of a leaf (nodes_per_leaf nodes) goes beyond it, its uplinks (1/oversubscription
// of the leaf's NIC bandwidth) slow every rank's NIC by oversubscription x the share that leaves.
// Rings and send/recv chains go node to node: about one hop in L leaves a leaf.
double ring_leaving(const ClusterSpec& c, const Span& s) {
  const auto leaf = c.network.nodes_per_leaf;
  return s.m > leaf ? 1.0 / static_cast<double>(leaf) : 0.0;
}
// A binary tree over nodes in order has edges of span 2^k, about m/2^(k+1) of each; all with
// span >= L leave the leaf, shorter ones with odds span/L: about (log2(L)/2 + 1)/L of the edges.
double tree_leaving(const ClusterSpec& c, const Span& s) {
  const auto leaf = static_cast<double>(c.network.nodes_per_leaf);
  return s.m > c.network.nodes_per_leaf ? std::min(1.0, (std::log2(leaf) / 2 + 1) / leaf) : 0.0;
}
// Uniform all-to-all: the share of a rank's remote peers outside its (full) leaf.
double alltoall_leaving(const ClusterSpec& c, const Span& s) {
  const auto leaf = c.network.nodes_per_leaf;
  return s.m > leaf ? static_cast<double>(s.m - leaf) / static_cast<double>(s.m - 1) : 0.0;
}

// A rank's share of its node's NICs (one NIC per GPU in the presets), at the rate NCCL reaches.
BytesPerSecond network_rate(const ClusterSpec& c, double leaving) {
  const double nics_per_gpu = static_cast<double>(c.network.nics_per_node) / static_cast<double>(c.gpus_per_node);
  const double spine = std::max(1.0, c.network.oversubscription * leaving);
  return scaled(c.network.nic_bandwidth, nics_per_gpu * network_efficiency() / spine);
}

// A protocol's share of a tier's rate. LL's cap (tuning.cc llMaxBws) bounds the bus rate of the
// whole algorithm: a phase that carries `share` of the bus bytes is capped at share x the cap.
BytesPerSecond protocol_rate(BytesPerSecond raw, double factor, Protocol p, const Span& s, double share) {
  const BytesPerSecond r = scaled(raw, factor);
  return p == Protocol::kLl ? std::min(r, scaled(ll_max_bandwidth(node_span(s.m)), share)) : r;
}

// NCCL's per-step latency on this cluster: its table, scaled by the cluster's hop over the table's.
Seconds hop(const ClusterSpec& c, Tier t, Algorithm a, Protocol p) {
  const Seconds cluster_hop = t == Tier::kNvlink ? c.nvlink.latency : c.network.latency;
  return step_latency(t, a, p) * (cluster_hop.value / reference_hop(t).value);
}

double log2_floor(std::int64_t v) { return std::floor(std::log2(static_cast<double>(v))); }

// A double binary tree over m nodes: a node is inner in one tree and a leaf in the other, so it
// sends and receives 2S; with two nodes each is root of one tree and leaf of the other: S (as
// tuning.cc, which halves the tree's network rate only beyond two nodes). Spread over p NICs.
Bytes tree_network_bytes(Bytes buffer, const Span& s) {
  if (!s.multi_node()) return {};
  return buffer * ((s.m == 2 ? 1.0 : 2.0) / static_cast<double>(s.p));
}

// The NVLink and network parts of one algorithm run together (pipelined); empty parts are left out.
std::vector<CommPhase> pipelined(Bytes nvlink, BytesPerSecond nvlink_bw, Bytes network, BytesPerSecond network_bw) {
  std::vector<CommPhase> out;
  if (nvlink.value > 0) out.push_back({Tier::kNvlink, nvlink, nvlink_bw, false});
  if (network.value > 0) out.push_back({Tier::kNetwork, network, network_bw, !out.empty()});
  return out;
}

CollectivePlan plan_of(CollectiveKind k, Algorithm a, Protocol p, Seconds latency, std::vector<CommPhase> phases) {
  CollectivePlan plan;
  plan.kind = k;
  plan.algorithm = a;
  plan.protocol = p;
  plan.latency = latency;
  plan.phases = std::move(phases);
  return plan;
}

CollectivePlan ring_plan(const ClusterSpec& c, CollectiveKind k, Bytes buffer, const Span& s, Protocol p) {
  const bool all_reduce = k == CollectiveKind::kAllReduce;
  const auto n = static_cast<double>(s.n);
  const auto per_node = static_cast<double>(s.p);
  const Bytes moved = buffer * ((all_reduce ? 2.0 : 1.0) * (n - 1) / n);
  const double factor = ring_protocol_factor(p, k, s.multi_node(), s.ranks_per_node());
  // Across nodes (p-1)/p of the bytes go over NVLink, 1/p over the rank's NIC.
  const double nvlink_share = s.multi_node() ? (per_node - 1) / per_node : 1.0;
  const double network_share = s.multi_node() ? 1 / per_node : 0.0;
  auto phases = pipelined(moved * nvlink_share, protocol_rate(nvlink_rate(c), factor, p, s, nvlink_share),
                          moved * network_share,
                          protocol_rate(network_rate(c, ring_leaving(c, s)), factor, p, s, network_share));

  // tuning.cc: base + (nsteps - nInterSteps) x intra + nInterSteps x inter; a multi-node ring's
  // intra-node step is no faster than posting a network operation.
  const std::int64_t steps = all_reduce ? 2 * (s.n - 1) : s.n - 1;
  const std::int64_t inter_steps =
      std::min(steps, all_reduce ? (s.multi_node() ? 2 * s.m : 0) : s.m - 1);
  Seconds intra = hop(c, Tier::kNvlink, Algorithm::kRing, p);
  if (s.multi_node()) {
    intra = std::max(intra, net_overhead() * (p == Protocol::kSimple ? kNetOverheadSimpleFactor : 1.0));
  }
  Seconds latency = base_latency(Algorithm::kRing, p) + intra * static_cast<double>(steps - inter_steps) +
                    hop(c, Tier::kNetwork, Algorithm::kRing, p) * static_cast<double>(inter_steps);
  if (all_reduce && p == Protocol::kSimple && s.multi_node()) latency = latency * kRingPlateauFactor;
  return plan_of(k, Algorithm::kRing, p, latency, std::move(phases));
}

CollectivePlan tree_plan(const ClusterSpec& c, Bytes buffer, const Span& s, Protocol p) {
  const double factor = tree_protocol_factor(p, s.multi_node()) * tree_correction(p, buffer);
  const Bytes bus = buffer * 2.0;  // NCCL: tree algbw = busbw / 2
  const Bytes nvlink = s.p > 1 ? bus : Bytes{};
  const Bytes network = tree_network_bytes(buffer, s);
  auto phases = pipelined(nvlink, protocol_rate(nvlink_rate(c), factor, p, s, 1.0), network,
                          protocol_rate(network_rate(c, tree_leaving(c, s)), factor, p, s, network.value / bus.value));
  // tuning.cc: base + 2 x ((p-1) x intra + log2(m) x inter), up the tree and down again.
  const Seconds latency = base_latency(Algorithm::kTree, p) +
                          (hop(c, Tier::kNvlink, Algorithm::kTree, p) * static_cast<double>(s.p - 1) +
                           hop(c, Tier::kNetwork, Algorithm::kTree, p) * log2_floor(s.m)) *
                              2.0;
  return plan_of(CollectiveKind::kAllReduce, Algorithm::kTree, p, latency, std::move(phases));
}

// NVLS in one node; NVLS inside each node and a tree between nodes (NVLS_TREE) across several.
CollectivePlan nvls_plan(const ClusterSpec& c, Bytes buffer, const Span& s) {
  const auto per_node = static_cast<double>(s.p);
  const Bytes nvlink = buffer * ((per_node + 1) / per_node);
  if (!s.multi_node()) {
    return plan_of(CollectiveKind::kAllReduce, Algorithm::kNvls, Protocol::kSimple,
                   base_latency(Algorithm::kNvls, Protocol::kSimple) +
                       hop(c, Tier::kNvlink, Algorithm::kNvls, Protocol::kSimple),
                   pipelined(nvlink, nvls_rate(c), {}, {}));
  }
  constexpr Algorithm a = Algorithm::kHierarchical;
  const Seconds latency = base_latency(a, Protocol::kSimple) + hop(c, Tier::kNvlink, a, Protocol::kSimple) +
                          hop(c, Tier::kNetwork, a, Protocol::kSimple) * (2 * log2_floor(s.m));
  return plan_of(CollectiveKind::kAllReduce, a, Protocol::kSimple, latency,
                 pipelined(nvlink, nvls_rate(c), tree_network_bytes(buffer, s), network_rate(c, tree_leaving(c, s))));
}

// What one rank moves in a point-to-point exchange, per tier.
struct DirectLoad {
  Bytes nvlink;
  Bytes network;
  double leaving = 0;  // share of the network bytes that leave the leaf
  std::int64_t remote_peers = 0;
};

CollectivePlan direct_plan(const ClusterSpec& c, CollectiveKind k, const Span& s, const DirectLoad& load, Protocol p) {
  const double factor = ring_protocol_factor(p, k, s.multi_node(), s.ranks_per_node());
  const double bus = load.nvlink.value + load.network.value;
  auto phases = pipelined(load.nvlink, protocol_rate(nvlink_rate(c), factor, p, s, load.nvlink.value / bus),
                          load.network, protocol_rate(network_rate(c, load.leaving), factor, p, s, load.network.value / bus));
  // One step over the slowest tier used, and one posted network operation per remote peer.
  Seconds step;
  if (load.nvlink.value > 0) step = hop(c, Tier::kNvlink, Algorithm::kDirect, p);
  if (load.network.value > 0) step = std::max(step, hop(c, Tier::kNetwork, Algorithm::kDirect, p));
  const Seconds latency =
      base_latency(Algorithm::kDirect, p) + step + net_overhead() * static_cast<double>(load.remote_peers);
  return plan_of(k, Algorithm::kDirect, p, latency, std::move(phases));
}

// NCCL's point-to-point transfers use LL for small messages and Simple otherwise (no LL128).
std::vector<CollectivePlan> direct_candidates(const ClusterSpec& c, CollectiveKind k, const Span& s,
                                              const DirectLoad& load) {
  return {direct_plan(c, k, s, load, Protocol::kLl), direct_plan(c, k, s, load, Protocol::kSimple)};
}

CollectivePlan zero_plan(CollectiveKind k) {
  return plan_of(k, k == CollectiveKind::kAllToAll || k == CollectiveKind::kSendRecv ? Algorithm::kDirect
                                                                                      : Algorithm::kRing,
                 Protocol::kSimple, {}, {});
}

CollectivePlan cheapest(const std::vector<CollectivePlan>& candidates) {
  return *std::min_element(candidates.begin(), candidates.end(), [](const CollectivePlan& a, const CollectivePlan& b) {
    return a.time_alone() < b.time_alone();
  });
}

// A rank's send row (or receive column): bytes per tier, given where each peer sits.
template <typename BytesTo>
DirectLoad row_load(const ClusterSpec& c, const Span& s, std::int64_t me, BytesTo bytes_to) {
  DirectLoad load;
  Bytes leaving;
  const std::int64_t my_node = me / s.p;
  const std::int64_t my_leaf = my_node / c.network.nodes_per_leaf;
  for (std::int64_t j = 0; j < s.n; ++j) {
    const Bytes b = bytes_to(j);
    if (j == me || b.value <= 0) continue;
    const std::int64_t node = j / s.p;
    if (node == my_node) {
      load.nvlink += b;
      continue;
    }
    load.network += b;
    ++load.remote_peers;
    if (node / c.network.nodes_per_leaf != my_leaf) leaving += b;
  }
  if (load.network.value > 0 && s.m > c.network.nodes_per_leaf) load.leaving = leaving.value / load.network.value;
  return load;
}

// How long a load keeps the network busy, counting the spine's slowdown (to pick the busiest rank).
double network_seconds(const ClusterSpec& c, const DirectLoad& load) {
  return load.network.value > 0 ? transfer_time(load.network, network_rate(c, load.leaving)).value : 0.0;
}

}  // namespace

const char* collective_name(CollectiveKind k) {
  switch (k) {
    case CollectiveKind::kAllReduce: return "all_reduce";
    case CollectiveKind::kAllGather: return "all_gather";
    case CollectiveKind::kReduceScatter: return "reduce_scatter";
    case CollectiveKind::kAllToAll: return "all_to_all";
    case CollectiveKind::kSendRecv: return "p2p";
  }
  return "?";
}

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kRing: return "ring";
    case Algorithm::kTree: return "tree";
    case Algorithm::kNvls: return "nvls";
    case Algorithm::kDirect: return "direct";
    case Algorithm::kHierarchical: return "nvls_tree";
  }
  return "?";
}

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kLl: return "LL";
    case Protocol::kLl128: return "LL128";
    case Protocol::kSimple: return "Simple";
  }
  return "?";
}

const char* tier_name(Tier t) { return t == Tier::kNvlink ? "nvlink" : "network"; }

Seconds CollectivePlan::time_alone() const {
  Seconds total = latency;
  Seconds stage;
  for (std::size_t i = 0; i < phases.size(); ++i) {
    if (i > 0 && !phases[i].overlaps_previous) {
      total += stage;
      stage = {};
    }
    stage = std::max(stage, transfer_time(phases[i].bytes, phases[i].bandwidth));
  }
  return total + stage;
}

Bytes CollectivePlan::bytes_on(Tier t) const {
  Bytes sum;
  for (const auto& ph : phases) {
    if (ph.tier == t) sum += ph.bytes;
  }
  return sum;
}

std::vector<CollectivePlan> collective_candidates(const ClusterSpec& cluster, CollectiveKind kind, Bytes buffer,
                                                  const CommGroup& group) {
  const Span s = check_group(cluster, group);
  if (s.n == 1 || buffer.value <= 0) return {zero_plan(kind)};
  constexpr Protocol kProtocols[] = {Protocol::kLl, Protocol::kLl128, Protocol::kSimple};
  std::vector<CollectivePlan> out;
  switch (kind) {
    case CollectiveKind::kAllReduce:
      for (Protocol p : kProtocols) out.push_back(ring_plan(cluster, kind, buffer, s, p));
      for (Protocol p : kProtocols) out.push_back(tree_plan(cluster, buffer, s, p));
      if (cluster.nvlink.nvls && s.p > 1) out.push_back(nvls_plan(cluster, buffer, s));
      break;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
      for (Protocol p : kProtocols) out.push_back(ring_plan(cluster, kind, buffer, s, p));
      break;
    case CollectiveKind::kAllToAll: {
      // nccl-tests' buffer is what a rank sends in all, S/n to every rank including itself.
      const auto n = static_cast<double>(s.n);
      DirectLoad load;
      load.nvlink = buffer * (static_cast<double>(s.p - 1) / n);
      load.network = buffer * (static_cast<double>(s.n - s.p) / n);
      load.leaving = alltoall_leaving(cluster, s);
      load.remote_peers = s.n - s.p;
      out = direct_candidates(cluster, kind, s, load);
      break;
    }
    case CollectiveKind::kSendRecv: {
      // Between neighbours (pipeline stages): over the network once the group spans nodes.
      DirectLoad load;
      (s.multi_node() ? load.network : load.nvlink) = buffer;
      load.leaving = ring_leaving(cluster, s);
      load.remote_peers = s.multi_node() ? 1 : 0;
      out = direct_candidates(cluster, kind, s, load);
      break;
    }
  }
  return out;
}

CollectivePlan plan_collective(const ClusterSpec& cluster, CollectiveKind kind, Bytes buffer, const CommGroup& group) {
  return cheapest(collective_candidates(cluster, kind, buffer, group));
}

CollectivePlan plan_alltoallv(const ClusterSpec& cluster, const std::vector<Bytes>& send, std::int64_t me,
                              const CommGroup& group) {
  const Span s = check_group(cluster, group);
  if (static_cast<std::int64_t>(send.size()) != s.n || me < 0 || me >= s.n) {
    throw RuntimeFailure("plan_alltoallv: " + std::to_string(send.size()) + " sizes and rank " + std::to_string(me) +
                         " for a group of " + std::to_string(s.n));
  }
  const DirectLoad load = row_load(cluster, s, me, [&](std::int64_t j) { return send[static_cast<std::size_t>(j)]; });
  if (load.nvlink.value <= 0 && load.network.value <= 0) return zero_plan(CollectiveKind::kAllToAll);
  return cheapest(direct_candidates(cluster, CollectiveKind::kAllToAll, s, load));
}

CollectivePlan plan_alltoallv(const ClusterSpec& cluster, const std::vector<std::vector<Bytes>>& matrix,
                              const CommGroup& group) {
  const Span s = check_group(cluster, group);
  const auto n = static_cast<std::size_t>(s.n);
  bool square = matrix.size() == n;
  for (const auto& row : matrix) square = square && row.size() == n;
  if (!square) {
    throw RuntimeFailure("plan_alltoallv: the traffic matrix must be " + std::to_string(n) + " x " +
                         std::to_string(n));
  }
  // Per tier, the busiest rank in either direction; the most remote peers any rank posts.
  DirectLoad busiest;
  double busiest_network = -1;
  for (std::int64_t r = 0; r < s.n; ++r) {
    const auto ri = static_cast<std::size_t>(r);
    const DirectLoad sent = row_load(cluster, s, r, [&](std::int64_t j) { return matrix[ri][static_cast<std::size_t>(j)]; });
    const DirectLoad received =
        row_load(cluster, s, r, [&](std::int64_t j) { return matrix[static_cast<std::size_t>(j)][ri]; });
    for (const DirectLoad* load : {&sent, &received}) {
      busiest.nvlink = std::max(busiest.nvlink, load->nvlink);
      busiest.remote_peers = std::max(busiest.remote_peers, load->remote_peers);
      if (network_seconds(cluster, *load) > busiest_network) {
        busiest_network = network_seconds(cluster, *load);
        busiest.network = load->network;
        busiest.leaving = load->leaving;
      }
    }
  }
  if (busiest.nvlink.value <= 0 && busiest.network.value <= 0) return zero_plan(CollectiveKind::kAllToAll);
  return cheapest(direct_candidates(cluster, CollectiveKind::kAllToAll, s, busiest));
}

BytesPerSecond bus_bandwidth(CollectiveKind kind, Bytes buffer, std::int64_t ranks, Seconds time) {
  if (time.value <= 0 || ranks < 1) return {};
  const auto n = static_cast<double>(ranks);
  double factor = 1.0;
  switch (kind) {
    case CollectiveKind::kAllReduce: factor = 2 * (n - 1) / n; break;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: factor = (n - 1) / n; break;
    case CollectiveKind::kSendRecv: factor = 1.0; break;
  }
  return scaled(rate(buffer, time), factor);
}

}  // namespace ecsim
