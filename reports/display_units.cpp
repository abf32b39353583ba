#include "reports/display_units.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace ecsim {

DisplayUnit time_unit_for(double max_seconds) {
  constexpr double kMinute = 60, kHour = 3600, kDay = 86400;
  if (max_seconds <= 0) return {"ms", 1e3};  // a lone zero (no bubble) reads "0 ms", not "0 µs"
  if (max_seconds < 1e-3) return {"µs", 1e6};
  if (max_seconds < 10) return {"ms", 1e3};
  if (max_seconds < 10 * kMinute) return {"s", 1};
  if (max_seconds < 2 * kHour) return {"min", 1 / kMinute};
  if (max_seconds < 3 * kDay) return {"h", 1 / kHour};
  return {"days", 1 / kDay};
}

DisplayUnit bytes_unit_for(double max_bytes) {
  constexpr std::array<const char*, 5> kNames{"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t i = 0;
  double scale = 1;
  while (i + 1 < kNames.size() && max_bytes * scale >= 1024) {
    scale /= 1024;
    ++i;
  }
  return {kNames[i], scale};
}

DisplayUnit gpu_hours_unit_for(double max_gpu_hours) {
  if (max_gpu_hours >= 1e6) return {"M GPU·h", 1e-6};
  if (max_gpu_hours >= 1e4) return {"k GPU·h", 1e-3};
  return {"GPU·h", 1};
}

DisplayUnit flops_unit_for(double max_flops) {
  if (max_flops >= 1e18) return {"EFLOP", 1e-18};
  if (max_flops >= 1e15) return {"PFLOP", 1e-15};
  if (max_flops >= 1e12) return {"TFLOP", 1e-12};
  return {"GFLOP", 1e-9};
}

DisplayUnit percent_unit() { return {"%", 100}; }

std::string format_number(double v, int digits) {
  std::array<char, 64> buf{};
  if (v == 0 || !std::isfinite(v)) {
    std::snprintf(buf.data(), buf.size(), "%g", v);
    return buf.data();
  }
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const int decimals = magnitude + 1 >= digits ? 0 : digits - 1 - magnitude;
  std::snprintf(buf.data(), buf.size(), "%.*f", decimals, v);
  return buf.data();
}

std::string format_plain(double v) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%g", v);
  return buf.data();
}

std::string format_grouped(double v) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.0f", std::fabs(v));
  const std::string digits = buf.data();
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 && out != "0" ? "-" : "") + out;
}

std::string format_with_unit(double base_value, const DisplayUnit& unit, int digits) {
  const std::string number = format_number(unit.of(base_value), digits);
  return unit.symbol == "%" ? number + "%" : number + " " + unit.symbol;
}

}  // namespace ecsim
