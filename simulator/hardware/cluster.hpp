// A cluster: GPUs of one kind in nodes; an NVLink/NVSwitch domain per node; NICs per node on a
// rail-optimized two-tier fat tree with configurable oversubscription (format in
// scenarios/README.md, presets in scenarios/clusters/).
#pragma once

#include <cstdint>
#include <string>

#include "core/json_input.hpp"
#include "hardware/gpu.hpp"

namespace ecsim {

struct NvlinkSpec {
  BytesPerSecond bandwidth;  // per GPU, per direction
  Seconds latency;
  bool nvls = false;         // NVLink SHARP (in-switch reduction) available
};

struct NetworkSpec {
  std::int64_t nics_per_node = 0;
  BytesPerSecond nic_bandwidth;  // per NIC, per direction
  Seconds latency;               // one hop through the fabric
  double oversubscription = 1.0; // leaf-to-spine: 1.0 is non-blocking
  std::int64_t nodes_per_leaf = 32;  // nodes under one leaf (rail) group
};

struct ClusterSpec {
  std::string name;
  GpuSpec gpu;
  std::int64_t gpus = 0;
  std::int64_t gpus_per_node = 8;
  NvlinkSpec nvlink;
  NetworkSpec network;
  std::int64_t nodes() const { return gpus / gpus_per_node; }
};

ClusterSpec parse_cluster(const Node& node);
Json cluster_to_json(const ClusterSpec& c);

}  // namespace ecsim
