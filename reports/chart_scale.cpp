#include "reports/chart_scale.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace ecsim {
namespace {

// Tolerance for "is this bound already on a tick", relative to the step: keeps 0.30000000000000004
// from growing one more tick.
constexpr double kSnap = 1e-9;

struct NiceStep {
  double step;
  int decimals;
};

// The smallest of 1, 2, 2.5, 5, 10 x 10^k that is at least `raw`.
NiceStep nice_step(double raw) {
  const int k = static_cast<int>(std::floor(std::log10(raw)));
  const double magnitude = std::pow(10.0, k);
  constexpr std::array<double, 5> kMantissas{1, 2, 2.5, 5, 10};
  double m = 10;
  for (double c : kMantissas) {
    if (c * magnitude >= raw * (1 - kSnap)) {
      m = c;
      break;
    }
  }
  const int exponent = m == 10 ? k + 1 : k;
  int decimals = std::max(0, -exponent);
  if (m == 2.5) decimals += 1;  // 2.5 x 10^k needs one digit more than its exponent says
  return {m == 10 ? 10 * magnitude : m * magnitude, decimals};
}

}  // namespace

double AxisScale::fraction(double v) const {
  if (kind == Kind::kLog10) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  return (v - lo) / (hi - lo);
}

AxisScale linear_axis(double lo, double hi, int target_ticks) {
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) hi = lo + 1;
  const NiceStep s = nice_step((hi - lo) / std::max(1, target_ticks));
  const auto first = static_cast<long long>(std::floor(lo / s.step + kSnap));
  const auto last = static_cast<long long>(std::ceil(hi / s.step - kSnap));
  AxisScale a;
  a.kind = AxisScale::Kind::kLinear;
  a.decimals = s.decimals;
  for (long long i = first; i <= last; ++i) a.ticks.push_back(static_cast<double>(i) * s.step);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  return a;
}

AxisScale log_axis(double lo, double hi) {
  if (hi < lo) std::swap(lo, hi);
  const int first = static_cast<int>(std::floor(std::log10(lo) + kSnap));
  int last = static_cast<int>(std::ceil(std::log10(hi) - kSnap));
  if (last <= first) last = first + 1;
  AxisScale a;
  a.kind = AxisScale::Kind::kLog10;
  for (int k = first; k <= last; ++k) a.ticks.push_back(std::pow(10.0, k));
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  return a;
}

std::string tick_label(const AxisScale& axis, double v) {
  std::array<char, 64> buf{};
  if (axis.kind == AxisScale::Kind::kLog10) {
    std::snprintf(buf.data(), buf.size(), "%g", v);
  } else {
    const double zero_below = 0.5 * std::pow(10.0, -axis.decimals);
    std::snprintf(buf.data(), buf.size(), "%.*f", axis.decimals, std::fabs(v) < zero_below ? 0.0 : v);
  }
  return buf.data();
}

}  // namespace ecsim
