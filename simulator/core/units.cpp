#include "core/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ecsim {
namespace {

struct Suffix {
  std::string_view text;
  double factor;
};

// Splits "2.5us" into 2.5 and "us"; rejects bare numbers, signs on negative values are kept
// so that the range check of the caller can name them.
std::pair<double, std::string_view> split_number(std::string_view text, std::string_view family) {
  double v = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr == begin) {
    throw UnitError("'" + std::string(text) + "' is not a " + std::string(family) +
                    " (expected a number followed by a unit)");
  }
  if (!std::isfinite(v)) throw UnitError("'" + std::string(text) + "' is not finite");
  std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  if (unit.empty()) {
    throw UnitError("'" + std::string(text) + "' has no unit; a " + std::string(family) +
                    " needs one");
  }
  return {v, unit};
}

template <std::size_t N>
double parse_with(std::string_view text, std::string_view family,
                  const std::array<Suffix, N>& table) {
  auto [v, unit] = split_number(text, family);
  for (const auto& s : table) {
    if (unit == s.text) return v * s.factor;
  }
  std::string known;
  for (const auto& s : table) known += (known.empty() ? "" : ", ") + std::string(s.text);
  throw UnitError("'" + std::string(text) + "': unknown " + std::string(family) + " unit '" +
                  std::string(unit) + "' (known: " + known + ")");
}

constexpr double kKi = 1024.0;
constexpr std::array<Suffix, 11> kByteUnits{{{"B", 1},
                                             {"kB", 1e3},
                                             {"KB", 1e3},
                                             {"MB", 1e6},
                                             {"GB", 1e9},
                                             {"TB", 1e12},
                                             {"PB", 1e15},
                                             {"KiB", kKi},
                                             {"MiB", kKi * kKi},
                                             {"GiB", kKi * kKi * kKi},
                                             {"TiB", kKi * kKi * kKi * kKi}}};
constexpr std::array<Suffix, 12> kBandwidthUnits{{{"Bps", 1},
                                                  {"kBps", 1e3},
                                                  {"KBps", 1e3},
                                                  {"MBps", 1e6},
                                                  {"GBps", 1e9},
                                                  {"TBps", 1e12},
                                                  {"bps", 1.0 / 8},
                                                  {"kbps", 1e3 / 8},
                                                  {"Kbps", 1e3 / 8},
                                                  {"Mbps", 1e6 / 8},
                                                  {"Gbps", 1e9 / 8},
                                                  {"Tbps", 1e12 / 8}}};
constexpr std::array<Suffix, 4> kTimeUnits{{{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}}};
constexpr std::array<Suffix, 6> kRateUnits{{{"FLOPS", 1},
                                            {"kFLOPS", 1e3},
                                            {"MFLOPS", 1e6},
                                            {"GFLOPS", 1e9},
                                            {"TFLOPS", 1e12},
                                            {"PFLOPS", 1e15}}};
constexpr std::array<Suffix, 6> kFlopUnits{{{"FLOP", 1},
                                            {"kFLOP", 1e3},
                                            {"MFLOP", 1e6},
                                            {"GFLOP", 1e9},
                                            {"TFLOP", 1e12},
                                            {"PFLOP", 1e15}}};

// Prints v/factor with up to 12 significant digits, trimmed ("2.5", "80").
std::string with_unit(double v, double factor, std::string_view unit, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v / factor);
  return std::string(buf) + std::string(unit);
}

// Picks the largest unit of the ladder whose scaled magnitude is at least 1.
template <std::size_t N>
std::string format_ladder(double v, const std::array<Suffix, N>& ladder, int digits) {
  const Suffix* best = &ladder[0];
  for (const auto& s : ladder) {
    if (std::fabs(v) >= s.factor) best = &s;
  }
  return with_unit(v, best->factor, best->text, digits);
}

}  // namespace

Nanos to_nanos(Seconds s) { return {static_cast<std::int64_t>(std::llround(s.value * kNanosPerSecond))}; }

Bytes parse_bytes(std::string_view t) { return {parse_with(t, "size in bytes", kByteUnits)}; }
BytesPerSecond parse_bandwidth(std::string_view t) { return {parse_with(t, "bandwidth", kBandwidthUnits)}; }
Seconds parse_duration(std::string_view t) { return {parse_with(t, "duration", kTimeUnits)}; }
FlopsPerSecond parse_flops_rate(std::string_view t) { return {parse_with(t, "FLOP rate", kRateUnits)}; }
Flops parse_flops(std::string_view t) { return {parse_with(t, "FLOP count", kFlopUnits)}; }

std::string format_bytes(Bytes b, int digits) {
  constexpr std::array<Suffix, 5> ladder{{{"B", 1},
                                          {"KiB", kKi},
                                          {"MiB", kKi * kKi},
                                          {"GiB", kKi * kKi * kKi},
                                          {"TiB", kKi * kKi * kKi * kKi}}};
  return format_ladder(b.value, ladder, digits);
}
std::string format_bandwidth(BytesPerSecond bw, int digits) {
  constexpr std::array<Suffix, 5> ladder{{{"Bps", 1}, {"kBps", 1e3}, {"MBps", 1e6}, {"GBps", 1e9}, {"TBps", 1e12}}};
  return format_ladder(bw.value, ladder, digits);
}
std::string format_duration(Seconds s, int digits) {
  constexpr std::array<Suffix, 4> ladder{{{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}}};
  return format_ladder(s.value, ladder, digits);
}
std::string format_flops_rate(FlopsPerSecond r, int digits) { return format_ladder(r.value, kRateUnits, digits); }
std::string format_flops(Flops f, int digits) { return format_ladder(f.value, kFlopUnits, digits); }
std::string format_count(double n) {
  constexpr std::array<Suffix, 5> ladder{{{"", 1}, {"K", 1e3}, {"M", 1e6}, {"B", 1e9}, {"T", 1e12}}};
  const Suffix* best = &ladder[0];
  for (const auto& s : ladder) {
    if (std::fabs(n) >= s.factor) best = &s;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", n / best->factor, std::string(best->text).c_str());
  return buf;
}

}  // namespace ecsim
