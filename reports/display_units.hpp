// Units a reader takes in at a glance. Every number in a report is stored in SI base units
// (seconds, bytes); a chart or table picks one display unit for all of its values, from the
// largest of them, so that bars stay comparable and the axis title can carry the unit.
#pragma once

#include <string>

namespace ecsim {

struct DisplayUnit {
  std::string symbol;  // "ms", "GiB", "%", "GPU·h"
  double scale = 1;    // displayed value = base value * scale
  double of(double base_value) const { return base_value * scale; }
};

// us below 1 ms, ms up to 10 s (step times read best in ms), then s, min, h, days; ms for zero.
DisplayUnit time_unit_for(double max_seconds);
// Binary prefixes (memory is sized in GiB): B, KiB, MiB, GiB, TiB.
DisplayUnit bytes_unit_for(double max_bytes);
// GPU-hours, or thousands / millions of them.
DisplayUnit gpu_hours_unit_for(double max_gpu_hours);
// Floating-point operation counts: GFLOP, TFLOP, PFLOP, EFLOP.
DisplayUnit flops_unit_for(double max_flops);
// Fractions (0.42) shown as percent (42).
DisplayUnit percent_unit();

// `digits` significant digits, no exponent: 812, 75.3, 7.53, 0.0753; 0 prints "0". Whole numbers
// of 4+ digits are printed whole ("1234"), never rounded to "1.23e+03".
std::string format_number(double v, int digits = 3);
// Shortest plain form: 1 -> "1", 1.25 -> "1.25" (settings such as a capacity factor).
std::string format_plain(double v);
// Whole numbers with thousands separators: 14443 -> "14,443" (throughputs, GPU counts).
std::string format_grouped(double v);
// A number and its unit: "812 ms", "75.3 GiB", "42 %" is written "42%".
std::string format_with_unit(double base_value, const DisplayUnit& unit, int digits = 3);

}  // namespace ecsim
