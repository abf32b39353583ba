// Every parallel layout of a training scenario on its cluster: tp (divisors of the GPUs per node
// that divide the heads) x pp (divisors of the layers) x vpp (divisors of layers / pp; 1 without
// a pipeline) x ep (divisors of the experts that divide dp) x ZeRO stage 0..3 x mbs (samples that
// divide the per-data-parallel-rank batch and fill whole expert-choice routing groups) x recompute
// (none, selective, full); dp is GPUs / (tp x pp). Each goes through plan_layout, the one judge of
// what is possible; the ones it rejects are counted by the reason it gives.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "parallel/layout_plan.hpp"

namespace ecsim {

struct Enumeration {
  // In enumeration order: tp, pp, vpp, ep, mbs, then ZeRO and recompute innermost, so that the
  // layouts whose operators are the same (screen.hpp's memo) come together.
  std::vector<LayoutPlan> valid;
  std::int64_t enumerated = 0;    // valid + rejected
  // Rejected layouts by reason: "key: message with its numbers as N", e.g.
  // "zero: ZeRO-3 (FSDP) with pipeline parallelism is not supported; use zero <= N".
  std::map<std::string, std::int64_t> invalid_by_reason;
};

// Uses the scenario's cluster GPU count. A (tp, pp) pair that leaves no whole dp, or a dp that
// leaves no micro-batch size, is enumerated once (with the smallest whole-group mbs) so that its
// reason appears in the counts instead of vanishing.
Enumeration enumerate_layouts(const Scenario& s);

// Ascending divisors of n >= 1.
std::vector<std::int64_t> divisors(std::int64_t n);
// The reason a layout InputError gives, with the file and the numbers taken out, so that the same
// constraint failing for different degrees counts once.
std::string rejection_reason(const InputError& e);

}  // namespace ecsim
