#include "routing/random_stream.hpp"

#include <cmath>

namespace ecsim {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): one step of the seeding sequence.
std::uint64_t splitmix64(std::uint64_t& x) {
  x += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

RandomStream::RandomStream(std::uint64_t seed, std::initializer_list<std::uint64_t> keys) {
  // Each key perturbs the SplitMix64 sequence, so {1, 2} and {2, 1} give different streams.
  std::uint64_t x = seed;
  std::uint64_t h = splitmix64(x);
  for (std::uint64_t k : keys) {
    x ^= h + k;
    h = splitmix64(x);
  }
  for (auto& word : s_) word = splitmix64(x);
}

double RandomStream::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double RandomStream::uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }

std::uint64_t RandomStream::below(std::uint64_t n) {
  // Rejects the lowest (2^64 mod n) values, so that every remainder is equally likely.
  const std::uint64_t threshold = (0 - n) % n;
  std::uint64_t r = next();
  while (r < threshold) r = next();
  return r % n;
}

double RandomStream::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  double u = 0, v = 0, s = 0;
  do {
    u = 2 * uniform() - 1;
    v = 2 * uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  const double f = std::sqrt(-2 * std::log(s) / s);
  spare_normal_ = v * f;
  has_spare_ = true;
  return u * f;
}

double RandomStream::exponential() { return -std::log(uniform_open()); }

double RandomStream::log_gamma(double shape) {
  if (shape < 1) return log_gamma(shape + 1) + std::log(uniform_open()) / shape;
  // Marsaglia and Tsang (2000), "A simple method for generating gamma variables".
  const double d = shape - 1.0 / 3.0;
  const double c = 1 / std::sqrt(9 * d);
  for (;;) {
    double x = 0, v = 0;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform_open();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v);
  }
}

}  // namespace ecsim
