// Measured NCCL collectives applied to the collective model. A profile measured on several GPUs of
// one node (ecsim-profile; its "collectives") gives, per (op, ranks), the measured time at a few
// buffer sizes; their ratio to the model's time (collective_check.hpp) calibrates every group of
// that op and rank count that sits inside one node: the plan's latency is multiplied and its
// phases' bandwidths divided by the ratio, interpolated linearly in log2 of the buffer between
// measured sizes and held at the nearest measured size outside them. Groups that span nodes, and
// ops or rank counts that were not measured, keep the model as it is.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "comm/collective.hpp"
#include "cost/compute_cost.hpp"
#include "hardware/cluster.hpp"

namespace ecsim {

class CollectiveCalibration {
 public:
  // Entries the model cannot price (collective_check.hpp's unmodelled) are left out.
  CollectiveCalibration(const std::vector<ProfileCollective>& measured, const ClusterSpec& cluster);

  // measured / model time for this call, when a group of its op and rank count inside one node
  // was measured; nullopt otherwise.
  std::optional<double> ratio(CollectiveKind kind, Bytes buffer, const CommGroup& group) const;
  // `plan` (the model's for this call) scaled by ratio(), or unchanged.
  CollectivePlan apply(CollectivePlan plan, Bytes buffer, const CommGroup& group) const;
  std::size_t calibrated_groups() const { return points_.size(); }  // (op, ranks) pairs measured

 private:
  // (op, ranks) -> (log2 bytes, measured / model), sorted by size.
  std::map<std::pair<int, std::int64_t>, std::vector<std::pair<double, double>>> points_;
};

}  // namespace ecsim
