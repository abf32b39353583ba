// The tables behind comm_constants.hpp: one row per case, each with its source.
#include "comm/comm_constants.hpp"

#include <array>
#include <cmath>
#include <string>

#include "core/errors.hpp"

namespace ecsim {
namespace {

constexpr int kAlgorithmCount = 5;
static_assert(static_cast<int>(Algorithm::kRing) == 0 && static_cast<int>(Algorithm::kTree) == 1 &&
                  static_cast<int>(Algorithm::kNvls) == 2 && static_cast<int>(Algorithm::kDirect) == 3 &&
                  static_cast<int>(Algorithm::kHierarchical) == 4,
              "latency tables below list algorithms in this order");
static_assert(static_cast<int>(Protocol::kLl) == 0 && static_cast<int>(Protocol::kLl128) == 1 &&
                  static_cast<int>(Protocol::kSimple) == 2,
              "tables below list protocols in this order");

using ProtocolRow = std::array<const char*, kProtocolCount>;   // LL, LL128, Simple
using AlgorithmTable = std::array<ProtocolRow, kAlgorithmCount>;

// tuning.cc baseLat (us). NVLS and NVLS_TREE have none: their latency is the step term alone.
// kDirect (send/recv, all-to-all) is not priced by tuning.cc; it takes the ring's row, since a
// point-to-point transfer is one ring step over the same connections.
constexpr AlgorithmTable kBaseLatency = {{
    {"6.6us", "14us", "8.4us"},  // ring
    {"6.8us", "14us", "0us"},    // tree
    {"0us", "0us", "0us"},       // nvls (Simple only)
    {"6.6us", "14us", "8.4us"},  // direct: the ring's row
    {"0us", "0us", "0us"},       // nvls_tree (Simple only)
}};

// tuning.cc hwLat[NCCL_HW_NVLINK] and hwLat[NCCL_HW_NET] (us per step); kDirect as above.
constexpr std::array<AlgorithmTable, kTierCount> kStepLatency = {{
    {{
        // NVLink
        {"0.6us", "1.9us", "3.4us"},   // ring
        {"0.6us", "1.25us", "28us"},   // tree
        {"0us", "0us", "23us"},        // nvls
        {"0.6us", "1.9us", "3.4us"},   // direct: the ring's row
        {"0us", "0us", "23us"},        // nvls_tree
    }},
    {{
        // network
        {"2.7us", "4us", "14us"},      // ring
        {"5us", "8.5us", "28us"},      // tree
        {"0us", "0us", "18us"},        // nvls
        {"2.7us", "4us", "14us"},      // direct: the ring's row
        {"0us", "0us", "14us"},        // nvls_tree
    }},
}};

// The hardware NCCL's hwLat describes: NVSwitch systems and InfiniBand, the class of the DGX H100
// preset (scenarios/clusters/dgx-h100.json: 1.5 us NVLink hop, 5 us network hop). A cluster with
// slower hops scales the table in proportion.
constexpr std::array<const char*, kTierCount> kReferenceHop = {"1.5us", "5us"};

// tuning.cc getNetOverhead: 1 us on Intel hosts (DGX H100 has Intel Xeon), 2 us on AMD.
constexpr const char* kNetOverhead = "1us";

// tuning.cc llMaxBws: one node uses the GPU's row (Hopper/Ampere 87.7 GB/s), several nodes the
// host CPU's (Intel: 39.0 for two nodes, 20.4 beyond).
constexpr std::array<const char*, 3> kLlMaxBandwidth = {"87.7GBps", "39GBps", "20.4GBps"};

// tuning.cc ring refinements: LL keeps 1/4 of the bus bandwidth across nodes or for all-reduce,
// 1/3 otherwise; LL128 keeps 0.92 (120/128), 0.7 with fewer than 2 ranks per node.
constexpr double kRingLlAllReduceOrMultiNode = 1.0 / 4.0;
constexpr double kRingLlOther = 1.0 / 3.0;
constexpr double kRingLl128 = 0.92;
constexpr double kRingLl128OneRankPerNode = 0.7;
// tuning.cc tree refinements: every tree x0.92; LL /3.8; LL128 x7/9 in one node, x120/128 across.
constexpr double kTreeAll = 0.92;
constexpr double kTreeLl = 1.0 / 3.8;
constexpr double kTreeLl128OneNode = 7.0 / 9.0;
constexpr double kTreeLl128MultiNode = 120.0 / 128.0;

// tuning.cc treeCorrectionFactor[protocol][log2(bytes / 64)], 64 B to 256 MiB.
constexpr int kTreeCorrectionSizes = 23;
constexpr std::array<std::array<double, kTreeCorrectionSizes>, kProtocolCount> kTreeCorrection = {{
    {1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0},
    {1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0},
    {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9},
}};

// NVLink per link: the rate NCCL's topology assumes (topo.h SM80/SM90/SM100_NVLINK_BW) and the
// link's rate per direction (NVLink 3 and 4: 25 GB/s, 12 and 18 links; NVLink 5: 50 GB/s, 18 links).
struct NvlinkRow {
  NvlinkGeneration generation;
  const char* nccl_link_rate;
  const char* link_rate;
};
constexpr std::array<NvlinkRow, 3> kNvlinkRates = {{
    {NvlinkGeneration::kNvlink3, "20GBps", "25GBps"},    // A100: 240 of 300 GB/s
    {NvlinkGeneration::kNvlink4, "20.6GBps", "25GBps"},  // H100: 370.8 of 450 GB/s
    {NvlinkGeneration::kNvlink5, "40.1GBps", "50GBps"},  // B200: 721.8 of 900 GB/s
}};

struct GpuNvlinkRow {
  const char* gpu;
  NvlinkGeneration generation;
};
constexpr std::array<GpuNvlinkRow, 4> kGpuNvlink = {{
    {"A100-SXM-80GB", NvlinkGeneration::kNvlink3},
    {"H100-SXM", NvlinkGeneration::kNvlink4},
    {"H200-SXM", NvlinkGeneration::kNvlink4},
    {"B200", NvlinkGeneration::kNvlink5},
}};

// nccl-tests all_reduce_perf on one DGX H100 (8 GPUs, 450 GB/s NVLink per direction) with NVLS:
// about 480 GB/s bus bandwidth at large sizes (ANCHORS.md).
constexpr const char* kNvlsMeasuredBusBandwidth = "480GBps";
constexpr const char* kNvlsMeasuredLink = "450GBps";
constexpr double kNvlsMeasuredRanks = 8;

// nccl-tests across nodes on 400 Gb/s NICs: 46-49 GB/s bus bandwidth per NIC (ANCHORS.md); the
// middle of that range over the 50 GB/s line rate.
constexpr const char* kNetworkMeasured = "47.5GBps";
constexpr const char* kNetworkLine = "400Gbps";

template <std::size_t N>
std::array<Seconds, N> parse_row(const std::array<const char*, N>& row) {
  std::array<Seconds, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = parse_duration(row[i]);
  return out;
}

std::size_t idx(Algorithm a) { return static_cast<std::size_t>(a); }
std::size_t idx(Protocol p) { return static_cast<std::size_t>(p); }
std::size_t idx(Tier t) { return static_cast<std::size_t>(t); }

}  // namespace

NvlinkGeneration nvlink_generation(const GpuSpec& gpu) {
  for (const auto& row : kGpuNvlink) {
    if (gpu.name == row.gpu) return row.generation;
  }
  return NvlinkGeneration::kNvlink4;
}

NodeSpan node_span(std::int64_t nodes) {
  if (nodes <= 1) return NodeSpan::kOneNode;
  return nodes == 2 ? NodeSpan::kTwoNodes : NodeSpan::kMoreNodes;
}

double nvlink_ring_efficiency(NvlinkGeneration g) {
  static const auto table = [] {
    std::array<double, kNvlinkRates.size()> t{};
    for (std::size_t i = 0; i < t.size(); ++i) {
      t[i] = parse_bandwidth(kNvlinkRates[i].nccl_link_rate).value / parse_bandwidth(kNvlinkRates[i].link_rate).value;
    }
    return t;
  }();
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (kNvlinkRates[i].generation == g) return table[i];
  }
  throw RuntimeFailure("nvlink_ring_efficiency: NVLink generation missing from the table");
}

double nvls_efficiency() {
  // NVLS moves S(n+1)/n per direction per GPU, so busbw = rate x 2(n-1)/(n+1).
  static const double e = parse_bandwidth(kNvlsMeasuredBusBandwidth).value * (kNvlsMeasuredRanks + 1) /
                          (2 * (kNvlsMeasuredRanks - 1)) / parse_bandwidth(kNvlsMeasuredLink).value;
  return e;
}

double network_efficiency() {
  static const double e = parse_bandwidth(kNetworkMeasured).value / parse_bandwidth(kNetworkLine).value;
  return e;
}

Seconds base_latency(Algorithm a, Protocol p) {
  static const auto table = [] {
    std::array<std::array<Seconds, kProtocolCount>, kAlgorithmCount> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = parse_row(kBaseLatency[i]);
    return t;
  }();
  return table[idx(a)][idx(p)];
}

Seconds step_latency(Tier tier, Algorithm a, Protocol p) {
  static const auto table = [] {
    std::array<std::array<std::array<Seconds, kProtocolCount>, kAlgorithmCount>, kTierCount> t{};
    for (std::size_t h = 0; h < t.size(); ++h) {
      for (std::size_t i = 0; i < t[h].size(); ++i) t[h][i] = parse_row(kStepLatency[h][i]);
    }
    return t;
  }();
  return table[idx(tier)][idx(a)][idx(p)];
}

Seconds reference_hop(Tier t) {
  static const auto table = parse_row(kReferenceHop);
  return table[idx(t)];
}

Seconds net_overhead() {
  static const Seconds overhead = parse_duration(kNetOverhead);
  return overhead;
}

BytesPerSecond ll_max_bandwidth(NodeSpan s) {
  static const auto table = [] {
    std::array<BytesPerSecond, kLlMaxBandwidth.size()> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = parse_bandwidth(kLlMaxBandwidth[i]);
    return t;
  }();
  return table[static_cast<std::size_t>(s)];
}

double ring_protocol_factor(Protocol p, CollectiveKind k, bool multi_node, double ranks_per_node) {
  switch (p) {
    case Protocol::kLl:
      return multi_node || k == CollectiveKind::kAllReduce ? kRingLlAllReduceOrMultiNode : kRingLlOther;
    case Protocol::kLl128:
      return ranks_per_node < 2 ? kRingLl128OneRankPerNode : kRingLl128;
    case Protocol::kSimple:
      return 1.0;
  }
  return 1.0;
}

double tree_protocol_factor(Protocol p, bool multi_node) {
  switch (p) {
    case Protocol::kLl:
      return kTreeAll * kTreeLl;
    case Protocol::kLl128:
      return kTreeAll * (multi_node ? kTreeLl128MultiNode : kTreeLl128OneNode);
    case Protocol::kSimple:
      return kTreeAll;
  }
  return kTreeAll;
}

double tree_correction(Protocol p, Bytes buffer) {
  // tuning.cc: logSize = log2i(nBytes >> 6), corrected below 23.
  const double chunks = std::floor(buffer.value / 64);
  const int log_size = chunks < 1 ? 0 : static_cast<int>(std::floor(std::log2(chunks)));
  if (log_size >= kTreeCorrectionSizes) return 1.0;
  return kTreeCorrection[idx(p)][static_cast<std::size_t>(log_size)];
}

}  // namespace ecsim
