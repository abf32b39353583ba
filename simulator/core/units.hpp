// Named quantities and the one parser for values that carry their unit ("80GiB", "900GBps",
// "400Gbps", "2.5us", "989TFLOPS"). A bare number where a unit is due is an error.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ecsim {

// Thrown by the parsers; the scenario reader adds the file and the JSON path.
struct UnitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Bytes {
  double value = 0;  // bytes, exact for whole counts up to 2^53
  friend constexpr Bytes operator+(Bytes a, Bytes b) { return {a.value + b.value}; }
  friend constexpr Bytes operator-(Bytes a, Bytes b) { return {a.value - b.value}; }
  friend constexpr Bytes operator*(Bytes a, double k) { return {a.value * k}; }
  friend constexpr Bytes operator*(double k, Bytes a) { return {a.value * k}; }
  friend constexpr Bytes operator/(Bytes a, double k) { return {a.value / k}; }
  Bytes& operator+=(Bytes b) { value += b.value; return *this; }
  friend constexpr auto operator<=>(Bytes, Bytes) = default;
};

struct Seconds {
  double value = 0;
  friend constexpr Seconds operator+(Seconds a, Seconds b) { return {a.value + b.value}; }
  friend constexpr Seconds operator-(Seconds a, Seconds b) { return {a.value - b.value}; }
  friend constexpr Seconds operator*(Seconds a, double k) { return {a.value * k}; }
  Seconds& operator+=(Seconds b) { value += b.value; return *this; }
  friend constexpr auto operator<=>(Seconds, Seconds) = default;
};

// Simulated time: integer nanoseconds.
struct Nanos {
  std::int64_t value = 0;
  friend constexpr Nanos operator+(Nanos a, Nanos b) { return {a.value + b.value}; }
  friend constexpr Nanos operator-(Nanos a, Nanos b) { return {a.value - b.value}; }
  Nanos& operator+=(Nanos b) { value += b.value; return *this; }
  friend constexpr auto operator<=>(Nanos, Nanos) = default;
};

struct BytesPerSecond {
  double value = 0;
  friend constexpr auto operator<=>(BytesPerSecond, BytesPerSecond) = default;
};

struct Flops {
  double value = 0;  // floating-point operations (a count, not a rate)
  friend constexpr Flops operator+(Flops a, Flops b) { return {a.value + b.value}; }
  friend constexpr Flops operator*(Flops a, double k) { return {a.value * k}; }
  friend constexpr Flops operator*(double k, Flops a) { return {a.value * k}; }
  friend constexpr Flops operator/(Flops a, double k) { return {a.value / k}; }
  Flops& operator+=(Flops b) { value += b.value; return *this; }
  friend constexpr auto operator<=>(Flops, Flops) = default;
};

struct FlopsPerSecond {
  double value = 0;
  friend constexpr auto operator<=>(FlopsPerSecond, FlopsPerSecond) = default;
};

// Converters: the only places where time scales appear.
constexpr double kNanosPerSecond = 1e9;
constexpr Seconds to_seconds(Nanos n) { return {static_cast<double>(n.value) / kNanosPerSecond}; }
Nanos to_nanos(Seconds s);  // rounds to the nearest nanosecond
inline Seconds transfer_time(Bytes b, BytesPerSecond bw) { return {b.value / bw.value}; }
inline Seconds compute_time(Flops f, FlopsPerSecond r) { return {f.value / r.value}; }
inline FlopsPerSecond rate(Flops f, Seconds s) { return {f.value / s.value}; }
inline BytesPerSecond rate(Bytes b, Seconds s) { return {b.value / s.value}; }

// Parsers: the text must be a number immediately followed by a unit of the right family.
Bytes parse_bytes(std::string_view text);                    // B, kB/KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB
BytesPerSecond parse_bandwidth(std::string_view text);       // Bps family (bytes), bps family (bits)
Seconds parse_duration(std::string_view text);               // ns, us, ms, s
FlopsPerSecond parse_flops_rate(std::string_view text);      // FLOPS, kFLOPS .. PFLOPS
Flops parse_flops(std::string_view text);                    // FLOP, GFLOP, TFLOP, PFLOP

// Printers: with the default 12 significant digits the text parses back to the same value
// (round trip within 1e-12); tables ask for fewer digits.
constexpr int kRoundTripDigits = 12;
std::string format_bytes(Bytes b, int digits = kRoundTripDigits);                // binary prefixes: "80GiB"
std::string format_bandwidth(BytesPerSecond bw, int digits = kRoundTripDigits);  // decimal: "900GBps"
std::string format_duration(Seconds s, int digits = kRoundTripDigits);           // "2.5us"
std::string format_flops_rate(FlopsPerSecond r, int digits = kRoundTripDigits);  // "989TFLOPS"
std::string format_flops(Flops f, int digits = kRoundTripDigits);                // "1.2PFLOP"
std::string format_count(double n);           // 97.21e9 -> "97.21B"

}  // namespace ecsim
