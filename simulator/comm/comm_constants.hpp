// Constants of the collective cost model, each with its source. Latencies and protocol factors
// are NCCL's own tuning tables (NVIDIA/nccl src/graph/tuning.cc, the 2.18/2.19 release with NVLS
// and NVLS_TREE, commit b6475625), NVLink rates from src/graph/topo.h; where NCCL's model stops
// (what fraction of a NIC or of NVLS a real run reaches) the public nccl-tests figures in
// ../shared/ANCHORS.md. Tables are indexed by the enums of collective.hpp; comm_constants.cpp
// holds one row per case.
#pragma once

#include <cstdint>

#include "comm/collective.hpp"
#include "hardware/gpu.hpp"

namespace ecsim {

enum class NvlinkGeneration { kNvlink3, kNvlink4, kNvlink5 };
// How many nodes a communicator spans, as NCCL buckets them for its LL caps (1, 2, more).
enum class NodeSpan { kOneNode, kTwoNodes, kMoreNodes };

// From the GPU kind: A100 NVLink 3, H100/H200 NVLink 4, B200 NVLink 5; a GPU described in a
// scenario (not in the table) is taken as NVLink 4.
NvlinkGeneration nvlink_generation(const GpuSpec& gpu);
NodeSpan node_span(std::int64_t nodes);

// Fraction of the per-GPU NVLink datasheet rate that NCCL's rings reach: the per-link rate
// NCCL's topology assumes (topo.h SMxx_NVLINK_BW) over the link's signalling rate.
double nvlink_ring_efficiency(NvlinkGeneration g);
// Fraction of the per-GPU NVLink rate that NVLS all-reduce reaches, per byte it moves through a
// port (S(n+1)/n per direction); derived from the nccl-tests NVLS figure on 8x H100.
double nvls_efficiency();
// Fraction of a NIC's line rate that NCCL reaches (nccl-tests on 400 Gb/s NICs).
double network_efficiency();

// NCCL's fixed launch latency per algorithm and protocol (tuning.cc baseLat).
Seconds base_latency(Algorithm a, Protocol p);
// NCCL's latency per step over NVLink or the network (tuning.cc hwLat), on the hardware its
// table describes; collective.cpp scales it by the cluster's hop latency over reference_hop().
Seconds step_latency(Tier t, Algorithm a, Protocol p);
Seconds reference_hop(Tier t);
// Proxy cost of posting one network operation (tuning.cc getNetOverhead, Intel host: 1 us). It
// floors the intra-node step of multi-node rings, x3 with Simple (kNetOverheadSimpleFactor), and
// is paid once per remote peer by point-to-point transfers.
Seconds net_overhead();
constexpr double kNetOverheadSimpleFactor = 3;  // tuning.cc: "if (p == NCCL_PROTO_SIMPLE) netOverhead *= 3"

// Upper bound on LL bus bandwidth (tuning.cc llMaxBws).
BytesPerSecond ll_max_bandwidth(NodeSpan s);

// Bus bandwidth factor of a protocol on a ring or a point-to-point transfer (tuning.cc "model
// refinements"): LL carries 8 data bytes per 16 and pays flag polling, LL128 120 of 128.
double ring_protocol_factor(Protocol p, CollectiveKind k, bool multi_node, double ranks_per_node);
// The same for trees, including the 0.92 all trees pay.
double tree_protocol_factor(Protocol p, bool multi_node);
// Trees fall short of the model at medium sizes; tuning.cc corrects their bandwidth per power of
// two of the size (treeCorrectionFactor, 64 B to 256 MiB; 1 beyond).
double tree_correction(Protocol p, Bytes buffer);
// Multi-node ring all-reduce with Simple pays 1.4x its latency (tuning.cc "plateau effect of
// ring", compute capability >= 8.0).
constexpr double kRingPlateauFactor = 1.4;

}  // namespace ecsim
