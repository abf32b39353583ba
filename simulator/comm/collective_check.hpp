// How well the collective model (collective.hpp) predicts measured NCCL collectives. For each
// entry of a profile's "collectives" array (ecsim-profile over the GPUs of one node), the model
// prices the same op, rank count and buffer as one group inside one node of `cluster`, and the
// error is predicted / measured p50 - 1 (positive: the model is slower than the GPUs).
// ecsim-profile prints the table after a run that measured collectives;
// tests/unit/collective_check_test.cpp checks it against bus bandwidths chosen by hand.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "comm/collective.hpp"
#include "cost/compute_cost.hpp"
#include "hardware/cluster.hpp"

namespace ecsim {

// collective_name's inverse: "all_reduce" -> kAllReduce; nullopt for a name the model lacks.
std::optional<CollectiveKind> collective_kind(std::string_view name);

struct CollectiveCheckRow {
  ProfileCollective measured;
  CollectiveKind kind = CollectiveKind::kAllReduce;
  CollectivePlan predicted;   // the model's cheapest plan (its algorithm and protocol)
  double predicted_ns = 0;
  double error = 0;           // predicted_ns / measured.p50_ns - 1
};

struct CollectiveCheck {
  std::string cluster;                    // the cluster model's name
  std::vector<CollectiveCheckRow> rows;   // in the profile's order
  std::vector<std::string> unmodelled;    // entries the model cannot price, each with why
  double median_abs_error = 0;            // over rows (0 without rows)
};

CollectiveCheck check_collectives(const std::vector<ProfileCollective>& measured, const ClusterSpec& cluster);

// One line per row (op, ranks, size, measured p50 and bus bandwidth, predicted time and bus
// bandwidth, the model's algorithm/protocol, error), then the unmodelled entries and the median.
void print_collective_check(const CollectiveCheck& check, std::ostream& out);

}  // namespace ecsim
