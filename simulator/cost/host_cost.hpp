// The host's time to issue a kernel call, from a measured profile's host times (each entry's
// "host_ns": the median host time to enqueue one timed run of it, and the profile's
// "event_pair_host_ns": to record its two events alone). A GPU whose kernels are shorter than the
// host's time to launch them waits for the host; the step builder gives each compute task its
// host time (Task::host) and the event engine runs a host lane per rank from it.
//
// A call is priced from the entry of its family and dtype nearest to its shape (host time barely
// follows the shape, except a ragged product's loop over its groups, which the nearest entry
// keeps), else of its family in another dtype, else the median over all entries (every launch
// costs about as much); always less the event pair, which only a timed operator records.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cost/compute_cost.hpp"

namespace ecsim {

class HostCostIndex {
 public:
  explicit HostCostIndex(const Profile& profile);

  // Whether the profile holds host times (entries with host_ns and the event pair).
  bool measured() const { return !all_.empty(); }
  // The host time to enqueue `call` without any event (0 where !measured()).
  double call_ns(const KernelCall& call) const;
  // The host time to record an operator's start and stop events (0 where !measured()).
  double event_pair_ns() const { return event_pair_ns_; }

 private:
  std::map<std::string, std::vector<const ProfileEntry*>> by_family_;  // "op|dtype"
  std::map<std::string, std::vector<const ProfileEntry*>> by_op_;      // "op", any dtype
  std::vector<double> all_;                                            // every entry's host_ns, sorted
  double event_pair_ns_ = 0;
};

}  // namespace ecsim
