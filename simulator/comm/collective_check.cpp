// The collective model against measured collectives (collective_check.hpp).
#include "comm/collective_check.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>

namespace ecsim {
namespace {

constexpr std::array<CollectiveKind, 5> kKinds = {CollectiveKind::kAllReduce, CollectiveKind::kAllGather,
                                                  CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll,
                                                  CollectiveKind::kSendRecv};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

std::string entry_text(const ProfileCollective& c) {
  return c.op + " " + std::to_string(c.ranks) + " ranks " + format_bytes(c.bytes, 4);
}

double in_gbps(BytesPerSecond b) { return b.value / 1e9; }

}  // namespace

std::optional<CollectiveKind> collective_kind(std::string_view name) {
  for (CollectiveKind k : kKinds) {
    if (name == collective_name(k)) return k;
  }
  return std::nullopt;
}

CollectiveCheck check_collectives(const std::vector<ProfileCollective>& measured, const ClusterSpec& cluster) {
  CollectiveCheck check;
  check.cluster = cluster.name;
  std::vector<double> abs_errors;
  for (const ProfileCollective& m : measured) {
    const auto kind = collective_kind(m.op);
    if (!kind) {
      check.unmodelled.push_back(entry_text(m) + ": no such collective in the model");
      continue;
    }
    // The profiler's groups are the first n GPUs of one machine: one node of the cluster.
    if (m.ranks > cluster.gpus_per_node) {
      check.unmodelled.push_back(entry_text(m) + ": more ranks than the " + std::to_string(cluster.gpus_per_node) +
                                 " GPUs of a node of " + cluster.name);
      continue;
    }
    if (m.p50_ns <= 0 || m.bytes.value <= 0) {
      check.unmodelled.push_back(entry_text(m) + ": no time or no bytes");
      continue;
    }
    CollectiveCheckRow row;
    row.measured = m;
    row.kind = *kind;
    row.predicted = plan_collective(cluster, *kind, m.bytes, CommGroup{m.ranks, m.ranks});
    row.predicted_ns = row.predicted.time_alone().value * kNanosPerSecond;
    row.error = row.predicted_ns / m.p50_ns - 1;
    abs_errors.push_back(std::fabs(row.error));
    check.rows.push_back(std::move(row));
  }
  check.median_abs_error = median(std::move(abs_errors));
  return check;
}

void print_collective_check(const CollectiveCheck& check, std::ostream& out) {
  const auto flags = out.flags();
  const auto precision = out.precision();
  out << "collectives, measured against the simulator's model (" << check.cluster
      << ", one node; error = predicted / measured p50 - 1; bus bandwidth as nccl-tests):\n";
  out << "  " << std::left << std::setw(16) << "op" << std::right << std::setw(6) << "ranks" << std::setw(10) << "bytes"
      << std::setw(14) << "measured us" << std::setw(12) << "bus GB/s" << std::setw(15) << "predicted us"
      << std::setw(12) << "bus GB/s" << "  " << std::left << std::setw(14) << "model" << std::right << std::setw(9)
      << "error" << "\n";
  out << std::fixed;
  for (const CollectiveCheckRow& r : check.rows) {
    const ProfileCollective& m = r.measured;
    const Seconds measured{m.p50_ns / kNanosPerSecond};
    const Seconds predicted{r.predicted_ns / kNanosPerSecond};
    const std::string model = std::string(algorithm_name(r.predicted.algorithm)) + "/" +
                              protocol_name(r.predicted.protocol);
    out << "  " << std::left << std::setw(16) << m.op << std::right << std::setw(6) << m.ranks << std::setw(10)
        << format_bytes(m.bytes, 4) << std::setprecision(1) << std::setw(14) << m.p50_ns / 1e3 << std::setw(12)
        << in_gbps(bus_bandwidth(r.kind, m.bytes, m.ranks, measured)) << std::setw(15) << r.predicted_ns / 1e3
        << std::setw(12) << in_gbps(bus_bandwidth(r.kind, m.bytes, m.ranks, predicted)) << "  " << std::left
        << std::setw(14) << model << std::right << std::setw(8) << 100 * r.error << "%\n";
  }
  for (const std::string& u : check.unmodelled) out << "  not priced: " << u << "\n";
  out << "  median |error| over " << check.rows.size() << " entries: " << std::setprecision(1)
      << 100 * check.median_abs_error << "%\n";
  out.flags(flags);
  out.precision(precision);
}

}  // namespace ecsim
