#include "hardware/cluster.hpp"

namespace ecsim {

ClusterSpec parse_cluster(const Node& node) {
  ObjectReader r(node);
  ClusterSpec c;
  c.name = r.string("name");
  c.gpu = parse_gpu(r.required("gpu"));
  c.gpus = r.integer("gpus", 1, 1 << 20);
  c.gpus_per_node = r.integer_or("gpus_per_node", 8, 1, 1024);
  if (c.gpus % c.gpus_per_node != 0 && c.gpus > c.gpus_per_node) {
    r.required("gpus").fail(std::to_string(c.gpus) + " GPUs do not fill whole nodes of " +
                            std::to_string(c.gpus_per_node));
  }
  if (c.gpus < c.gpus_per_node) c.gpus_per_node = c.gpus;  // a partial node: the GPUs given
  {
    ObjectReader n(r.required("nvlink"));
    c.nvlink.bandwidth = n.required("bandwidth").as_bandwidth();
    if (c.nvlink.bandwidth.value <= 0) n.required("bandwidth").fail("must be > 0");
    c.nvlink.latency = n.required("latency").as_duration();
    c.nvlink.nvls = n.boolean_or("nvls", false);
    n.finish();
  }
  if (c.nodes() > 1 || r.has("network")) {
    ObjectReader n(r.required("network"));
    c.network.nics_per_node = n.integer("nics_per_node", 1, 64);
    c.network.nic_bandwidth = n.required("nic_bandwidth").as_bandwidth();
    if (c.network.nic_bandwidth.value <= 0) n.required("nic_bandwidth").fail("must be > 0");
    c.network.latency = n.required("latency").as_duration();
    c.network.oversubscription = n.number_or("oversubscription", 1.0, 1.0, 64.0);
    c.network.nodes_per_leaf = n.integer_or("nodes_per_leaf", 32, 1, 1 << 16);
    n.finish();
  }
  r.finish();
  return c;
}

Json cluster_to_json(const ClusterSpec& c) {
  Json j = {{"name", c.name},
            {"gpu", gpu_to_json(c.gpu)},
            {"gpus", c.gpus},
            {"gpus_per_node", c.gpus_per_node},
            {"nvlink",
             {{"bandwidth", format_bandwidth(c.nvlink.bandwidth)},
              {"latency", format_duration(c.nvlink.latency)},
              {"nvls", c.nvlink.nvls}}}};
  if (c.network.nics_per_node > 0) {
    j["network"] = {{"nics_per_node", c.network.nics_per_node},
                    {"nic_bandwidth", format_bandwidth(c.network.nic_bandwidth)},
                    {"latency", format_duration(c.network.latency)},
                    {"oversubscription", c.network.oversubscription},
                    {"nodes_per_leaf", c.network.nodes_per_leaf}};
  }
  return j;
}

}  // namespace ecsim
