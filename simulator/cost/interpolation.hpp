// Pricing a kernel call from a profile's entries of the same family and dtype.
//
// A profile holds sweeps: entries that differ in one dimension only (a GEMM's rows, an attention's
// batch, an elementwise kernel's size). A call is priced along such a sweep through its shape:
// log time is interpolated linearly over log size between the two nearest entries that bracket it
// (time grows smoothly, close to a power of the size, between neighbours). For matrix and
// attention kernels the interpolated quantity is log(time / roofline time), the roofline taken
// from the profile's own ceilings, so that the turn from memory-bound to compute-bound shapes
// (a weight gradient over few tokens) is not smeared between neighbours: what is interpolated is
// the efficiency, which varies slowly. Of several sweeps through
// the shape (a GEMM can be swept in m, n or k), the one with the closest bracket wins. A shape that
// no sweep passes through is priced between two sweeps that differ from it in one other dimension,
// one below and one above (bilinear in log size), again the closest pair. Memory-bound kernels are
// swept along their work; those that reduce or gather rows or columns, or route, with their widths
// fixed (every dimension but their token, row, element and parameter counts: a norm's hidden, a bias
// gradient's columns, a routing's experts and top_k), since at equal work the widths set their time.
// A call of a width between two swept ones is priced between those sweeps at its work, and only
// widths outside them (or entries keyed otherwise, as a profile of before the seventh session of
// 2026-11-28 keys `layernorm` by elements) along its work over every width.
// Above the largest size a sweep through the shape measured, where the sweep's last step shows the
// rate saturated, the call is priced at that largest entry's rate (beyond_ns): a memory-bound
// kernel's time grows with its work at the top entry's bandwidth, a matrix or attention kernel keeps
// the top entry's efficiency against the roofline. Saturated: over the sweep's last step, log time
// grew with log size at a slope within kSaturatedSlopeError of that (1 for memory-bound families,
// 0 for the efficiency of the others). An optimizer step over 3 billion parameters, beyond a sweep
// that ends at 2^30, thus runs at the bandwidth measured there (an H200 ran the runner's AdamW at
// the profile's top rate, within 3.5%, at 0.3 to 2.7 billion parameters; the analytic model's
// fraction of the copy ceiling, made on an H100, priced it 11% slower, 2026-11-28). A memory-bound
// sweep that has not saturated is carried on at its last step's slope, held between flat and
// proportional (a loss kernel launch-bound up to its largest entry stays so a step further); the
// caller holds a memory-bound call carried past either end to its bytes at the copy ceiling.
// Below the smallest size a sweep through the shape measured (below_ns), a matrix or attention
// kernel keeps that entry's efficiency against the roofline (small products are latency-bound: a
// router GEMM over 8 experts costs about what the one over 16 does), a memory-bound kernel
// continues the sweep's first step, its slope held between flat and proportional. Over the
// committed H100 and H200 profiles, each sweep's smallest entry so priced from the next one in:
// median error 8 to 9%, where the analytic model is off by 35 to 39% (2026-11-29).
// Anything else is outside the measured range: the caller falls back to the analytic model.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cost/compute_cost.hpp"

namespace ecsim {

// The size measure a family's time is smooth in: FLOPs for matrix and attention kernels, elements
// moved for memory-bound ones (elements; rows x hidden; (rows + tokens) x hidden for unpermute;
// tokens x experts for routing; params for the optimizer; else the product of the dimensions).
double kernel_work(const std::string& family, const OpShape& shape);

class ProfileIndex {
 public:
  explicit ProfileIndex(const Profile& profile);
  // The call's time in nanoseconds, or nothing outside the measured range. `exclude` leaves one
  // entry (by its index in profile.ops) out, for the leave-one-out check.
  std::optional<double> price_ns(const std::string& family, const std::string& dtype, const OpShape& shape,
                                 std::optional<std::size_t> exclude = std::nullopt) const;
  // Above the measured range of a saturated sweep through the shape: the call's time in nanoseconds
  // at the top entry's rate (see above), or nothing. For a call price_ns cannot price.
  std::optional<double> beyond_ns(const std::string& family, const std::string& dtype, const OpShape& shape,
                                  std::optional<std::size_t> exclude = std::nullopt) const;
  // Below the smallest size a sweep through the shape measured: the call's time at that smallest
  // entry's rate (see above), or nothing. For a call price_ns cannot price.
  std::optional<double> below_ns(const std::string& family, const std::string& dtype, const OpShape& shape,
                                 std::optional<std::size_t> exclude = std::nullopt) const;

 private:
  struct Point {
    double log_x;
    double log_t;  // log(time / roofline time) for matrix and attention kernels, else log time (ns)
    std::size_t entry;
  };
  struct Sweep {
    std::string family;
    std::string axis;
    OpShape fixed;              // every dimension but the swept one
    std::vector<Point> points;  // sorted by log_x
  };
  struct Bracket {
    double log_t;
    double span;  // log-size distance between the bracketing entries (0: an exact match)
  };
  static std::optional<Bracket> bracket(const Sweep& s, double log_x, std::optional<std::size_t> exclude);
  // The entries at the size of s.points[i] (several shapes can share a work measure), `exclude`
  // left out: their mean log time (0 when none is left), how many, and the index of the first.
  struct SizeMean {
    double log_t;
    int count;
    std::size_t first;
  };
  static SizeMean mean_at_size(const Sweep& s, std::size_t i, std::optional<std::size_t> exclude = std::nullopt);
  // Past one end of the sweeps through the shape (then, for a width-sensitive family, of its
  // sweeps over every width): `rule` gives a sweep's (log-size distance past its end, log_t), or
  // nothing where it cannot carry the call; the closest sweep's wins.
  using EndRule = std::function<std::optional<std::pair<double, double>>(const Sweep&, double log_x)>;
  std::optional<double> past_end(const std::string& family, const std::string& dtype, const OpShape& shape,
                                 const EndRule& rule) const;
  // The largest size at or below that of s.points[i] with an entry left in.
  static std::optional<SizeMean> size_at_or_below(const Sweep& s, std::size_t i, std::optional<std::size_t> exclude);
  // Between the sweeps along `axis` that differ from the call in `other` only.
  std::optional<Bracket> across(const std::string& family, const std::string& dtype, const std::string& axis,
                                const std::string& other, const OpShape& shape,
                                std::optional<std::size_t> exclude) const;

  // Log of the roofline time (ns) of a matrix or attention shape under the profile's own ceilings;
  // 0 for memory-bound families.
  double log_roofline(const std::string& family, const OpShape& shape) const;

  FlopsPerSecond matmul_ceiling_;
  BytesPerSecond hbm_ceiling_;
  std::unordered_map<std::string, Sweep> sweeps_;                             // by sweep key
  std::unordered_map<std::string, std::vector<const Sweep*>> sweeps_by_axis_; // family|dtype|axis
};

// Relative errors |predicted - p50| / p50 of the entries priced from their neighbours.
struct LeaveOneOutErrors {
  std::size_t entries = 0;
  std::size_t predicted = 0;  // priced from neighbours
  std::size_t outside = 0;    // no bracketing neighbours once left out (ends of sweeps)
  double median = 0;
  double p90 = 0;
  double max = 0;
};

// Leave-one-out check of a profile: each entry predicted from all the others; overall and per
// kernel family (which family a profile's sweep is too coarse for).
struct LeaveOneOutResult : LeaveOneOutErrors {
  std::string worst;  // the entry with the largest error, for the report
  std::map<std::string, LeaveOneOutErrors> by_family;
  // The entries at a sweep's ends, left out and priced as a call past that end is: below the
  // smallest at the next entry's rate (below_ns), above the largest where saturated (beyond_ns).
  // Not in the figures above, which hold the interpolated entries only.
  LeaveOneOutErrors below, above;
};
LeaveOneOutResult leave_one_out(const Profile& profile);
// "1428 of 1905 entries priced from their neighbours, error median 1.4%, p90 20.8%, max 103% (worst)",
// then a line per family, largest p90 first.
void print_leave_one_out(const LeaveOneOutResult& r, std::ostream& out);

}  // namespace ecsim
