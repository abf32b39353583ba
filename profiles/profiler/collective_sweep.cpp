// The collective sweep (collective_sweep.hpp).
#include "profiler/collective_sweep.hpp"

#include <array>
#include <vector>

namespace ecsim::profiler {
namespace {

constexpr std::array<CollectiveKind, 4> kMeasured = {CollectiveKind::kAllReduce, CollectiveKind::kAllGather,
                                                     CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll};
constexpr std::int64_t kKiB = 1024;
constexpr std::int64_t kMiB = 1024 * kKiB;
constexpr std::int64_t kGiB = 1024 * kMiB;

}  // namespace

const char* collective_dtype(CollectiveKind kind) {
  return kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kReduceScatter ? "fp32" : "bf16";
}

std::size_t collective_dtype_bytes(CollectiveKind kind) {
  return kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kReduceScatter ? 4 : 2;
}

std::vector<std::int64_t> collective_sizes(SweepSize size, std::int64_t max_bytes) {
  std::vector<std::int64_t> sizes;
  if (size == SweepSize::kFull) sizes.push_back(8 * kKiB);
  sizes.push_back(64 * kKiB);
  const std::int64_t step = size == SweepSize::kFull ? 4 : 16;
  for (std::int64_t b = kMiB; b <= kGiB; b *= step) sizes.push_back(b);
  std::erase_if(sizes, [&](std::int64_t b) { return b > max_bytes; });
  return sizes;
}

std::vector<std::int64_t> collective_rank_counts(int devices) {
  std::vector<std::int64_t> ranks;
  for (std::int64_t n = 2; n <= devices; n *= 2) ranks.push_back(n);
  return ranks;
}

std::vector<std::string> measured_collective_names() {
  std::vector<std::string> names;
  for (const CollectiveKind kind : kMeasured) names.emplace_back(collective_name(kind));
  return names;
}

std::vector<PlannedCollective> plan_collectives(int devices, SweepSize size, std::int64_t max_bytes,
                                                const ClusterSpec& cluster, const FamilyFilter& selected) {
  std::vector<PlannedCollective> plan;
  for (const std::int64_t ranks : collective_rank_counts(devices)) {
    for (const CollectiveKind kind : kMeasured) {
      if (!selected(collective_name(kind))) continue;
      for (const std::int64_t bytes : collective_sizes(size, max_bytes)) {
        PlannedCollective c{kind, ranks, bytes, 0};
        // The first n GPUs of one machine: one group inside one node of the cluster.
        if (ranks <= cluster.gpus_per_node) {
          const CollectivePlan p = plan_collective(cluster, kind, Bytes{double(bytes)}, CommGroup{ranks, ranks});
          c.predicted_ns = p.time_alone().value * kNanosPerSecond;
        }
        plan.push_back(c);
      }
    }
  }
  return plan;
}

}  // namespace ecsim::profiler
