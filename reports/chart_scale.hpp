// Axes of the report's charts: a continuous domain (linear, or log10 for quantities that span
// decades, such as kernel times), tick values at "nice" numbers (1, 2, 2.5, 5 x 10^k, or whole
// decades), and the mapping of a value onto a fraction of the plot's extent.
#pragma once

#include <string>
#include <vector>

namespace ecsim {

struct AxisScale {
  enum class Kind { kLinear, kLog10 };
  Kind kind = Kind::kLinear;
  double lo = 0;              // domain, already widened to the outermost ticks
  double hi = 1;
  std::vector<double> ticks;  // ascending, lo and hi included
  int decimals = 0;           // decimals that print every linear tick exactly (ignored for log axes)

  // 0 at lo, 1 at hi; values outside the domain map outside [0, 1].
  double fraction(double v) const;
  // Pixel position on an axis drawn from `from` (at lo) to `to` (at hi).
  double at(double v, double from, double to) const { return from + (to - from) * fraction(v); }
};

// A linear axis covering [lo, hi] with about `target_ticks` intervals; the bounds are widened to
// multiples of the tick step, so a bar chart given lo = 0 starts at 0. lo == hi gives [lo, lo + 1].
AxisScale linear_axis(double lo, double hi, int target_ticks = 5);

// A log10 axis from the decade at or below lo to the decade at or above hi (lo, hi > 0).
AxisScale log_axis(double lo, double hi);

// The text of one tick: fixed decimals for linear axes ("0.25", "1200"), plain numbers for decades
// ("0.01", "1", "1000").
std::string tick_label(const AxisScale& axis, double v);

}  // namespace ecsim
