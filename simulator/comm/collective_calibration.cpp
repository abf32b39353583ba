#include "comm/collective_calibration.hpp"

#include <algorithm>
#include <cmath>

#include "comm/collective_check.hpp"

namespace ecsim {

CollectiveCalibration::CollectiveCalibration(const std::vector<ProfileCollective>& measured,
                                             const ClusterSpec& cluster) {
  for (const CollectiveCheckRow& row : check_collectives(measured, cluster).rows) {
    if (row.predicted_ns <= 0) continue;
    points_[{static_cast<int>(row.kind), row.measured.ranks}].emplace_back(std::log2(row.measured.bytes.value),
                                                                           row.measured.p50_ns / row.predicted_ns);
  }
  for (auto& [key, points] : points_) std::sort(points.begin(), points.end());
}

std::optional<double> CollectiveCalibration::ratio(CollectiveKind kind, Bytes buffer, const CommGroup& group) const {
  if (group.nodes() != 1 || buffer.value <= 0) return std::nullopt;
  const auto it = points_.find({static_cast<int>(kind), group.ranks});
  if (it == points_.end()) return std::nullopt;
  const auto& points = it->second;
  const double x = std::log2(buffer.value);
  if (x <= points.front().first) return points.front().second;
  if (x >= points.back().first) return points.back().second;
  const auto hi = std::upper_bound(points.begin(), points.end(), std::make_pair(x, 0.0));
  const auto lo = hi - 1;
  if (hi->first == lo->first) return hi->second;
  const double w = (x - lo->first) / (hi->first - lo->first);
  return lo->second + w * (hi->second - lo->second);
}

CollectivePlan CollectiveCalibration::apply(CollectivePlan plan, Bytes buffer, const CommGroup& group) const {
  const auto r = ratio(plan.kind, buffer, group);
  if (!r || *r <= 0) return plan;
  plan.latency = Seconds{plan.latency.value * *r};
  for (CommPhase& phase : plan.phases) phase.bandwidth = BytesPerSecond{phase.bandwidth.value / *r};
  return plan;
}

}  // namespace ecsim
