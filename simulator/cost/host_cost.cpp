#include "cost/host_cost.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace ecsim {
namespace {

// How far two shapes are apart: the sum over their dimensions of |log ratio| (a dimension one of
// them lacks counts as a factor of e^8 apart).
double shape_distance(const OpShape& a, const OpShape& b) {
  constexpr double kMissing = 8.0;
  std::set<std::string> dims;
  for (const auto& [name, v] : a) dims.insert(name);
  for (const auto& [name, v] : b) dims.insert(name);
  double d = 0;
  for (const std::string& name : dims) {
    const auto ia = a.find(name), ib = b.find(name);
    if (ia == a.end() || ib == b.end()) {
      d += kMissing;
      continue;
    }
    d += std::fabs(std::log((static_cast<double>(ia->second) + 1) / (static_cast<double>(ib->second) + 1)));
  }
  return d;
}

const ProfileEntry* nearest(const std::vector<const ProfileEntry*>& entries, const OpShape& shape) {
  const ProfileEntry* best = nullptr;
  double best_d = std::numeric_limits<double>::infinity();
  for (const ProfileEntry* e : entries) {
    const double d = shape_distance(e->shape, shape);
    if (d < best_d) best = e, best_d = d;
  }
  return best;
}

}  // namespace

HostCostIndex::HostCostIndex(const Profile& profile) {
  if (!profile.event_pair_host) return;
  for (const ProfileEntry& e : profile.ops) {
    if (e.host_ns <= 0) continue;
    by_family_[e.op + "|" + e.dtype].push_back(&e);
    by_op_[e.op].push_back(&e);
    all_.push_back(e.host_ns);
  }
  std::sort(all_.begin(), all_.end());
  if (!all_.empty()) event_pair_ns_ = profile.event_pair_host->p50_ns;
}

double HostCostIndex::call_ns(const KernelCall& call) const {
  if (all_.empty()) return 0;
  double host = all_[all_.size() / 2];
  if (auto f = by_family_.find(call.op + "|" + call.dtype); f != by_family_.end()) {
    host = nearest(f->second, call.shape)->host_ns;
  } else if (auto o = by_op_.find(call.op); o != by_op_.end()) {
    host = nearest(o->second, call.shape)->host_ns;
  }
  return std::max(0.0, host - event_pair_ns_);
}

}  // namespace ecsim
