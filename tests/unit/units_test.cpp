// Unit parsing and printing: every family, decimal and binary prefixes, bits against bytes,
// errors for bare numbers and unknown units, and print -> parse round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "core/units.hpp"

using namespace ecsim;

TEST_CASE("sizes: decimal and binary prefixes") {
  CHECK(parse_bytes("80GiB").value == 80.0 * 1024 * 1024 * 1024);  // 85899345920
  CHECK(parse_bytes("80GB").value == 80e9);
  CHECK(parse_bytes("50MiB").value == 50.0 * 1024 * 1024);
  CHECK(parse_bytes("1.5KiB").value == 1536);
  CHECK(parse_bytes("12B").value == 12);
}

TEST_CASE("bandwidth: bytes and bits per second") {
  CHECK(parse_bandwidth("900GBps").value == 900e9);
  CHECK(parse_bandwidth("400Gbps").value == doctest::Approx(50e9));  // 400 Gbit/s = 50 GB/s
  CHECK(parse_bandwidth("3.35TBps").value == doctest::Approx(3.35e12));
}

TEST_CASE("durations and FLOP rates") {
  CHECK(parse_duration("2.5us").value == doctest::Approx(2.5e-6));
  CHECK(parse_duration("10ms").value == doctest::Approx(0.01));
  CHECK(parse_duration("7ns").value == doctest::Approx(7e-9));
  CHECK(parse_flops_rate("989TFLOPS").value == doctest::Approx(989e12));
  CHECK(parse_flops("4.2PFLOP").value == doctest::Approx(4.2e15));
  CHECK(to_nanos(parse_duration("2.5us")).value == 2500);
  CHECK(to_seconds(Nanos{1500}).value == doctest::Approx(1.5e-6));
}

TEST_CASE("bare numbers and wrong units are errors that say why") {
  CHECK_THROWS_WITH_AS(parse_bytes("80"), doctest::Contains("has no unit"), UnitError);
  CHECK_THROWS_WITH_AS(parse_bandwidth("900GB"), doctest::Contains("unknown bandwidth unit 'GB'"), UnitError);
  CHECK_THROWS_WITH_AS(parse_duration("fast"), doctest::Contains("is not a duration"), UnitError);
  CHECK_THROWS_WITH_AS(parse_flops_rate("989TFLOP"), doctest::Contains("unknown FLOP rate unit"), UnitError);
  CHECK_THROWS_AS(parse_bytes(""), UnitError);
  CHECK_THROWS_AS(parse_bytes("GiB"), UnitError);
  CHECK_THROWS_AS(parse_bytes("1 GiB"), UnitError);  // no space between number and unit
}

TEST_CASE("printing picks a readable unit") {
  CHECK(format_bytes(parse_bytes("80GiB")) == "80GiB");
  CHECK(format_bandwidth(parse_bandwidth("900GBps")) == "900GBps");
  CHECK(format_duration(parse_duration("2.5us")) == "2.5us");
  CHECK(format_flops_rate(parse_flops_rate("989TFLOPS")) == "989TFLOPS");
  CHECK(format_bytes(Bytes{1536}, 4) == "1.5KiB");
  CHECK(format_count(97.21e9) == "97.21B");
}

TEST_CASE("print -> parse round trips on random values") {
  std::mt19937_64 rng(20261126);
  std::uniform_real_distribution<double> exponent(-2, 15);
  for (int i = 0; i < 500; ++i) {
    const double v = std::pow(10.0, exponent(rng)) * 1.2345678901;
    CHECK(parse_bytes(format_bytes(Bytes{v})).value == doctest::Approx(v).epsilon(1e-11));
    CHECK(parse_bandwidth(format_bandwidth(BytesPerSecond{v})).value == doctest::Approx(v).epsilon(1e-11));
    CHECK(parse_flops_rate(format_flops_rate(FlopsPerSecond{v})).value == doctest::Approx(v).epsilon(1e-11));
    const double t = v * 1e-12;
    CHECK(parse_duration(format_duration(Seconds{t})).value == doctest::Approx(t).epsilon(1e-11));
  }
}
