// Seeded random numbers for routing samples. Every draw comes from a stream keyed by the
// scenario's seed and by what it is for (sampled step, MoE layer, purpose), so a result does not
// depend on the order in which streams are used, and the same seed gives the same numbers on
// every platform: the generator (xoshiro256**) and every distribution are written out here
// rather than taken from <random>, whose distributions differ between standard libraries.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

namespace ecsim {

class RandomStream {
 public:
  // The stream for `seed` and the keys (e.g. {step, layer, purpose}); SplitMix64 mixes them into
  // the generator's state, as its authors recommend for seeding xoshiro.
  RandomStream(std::uint64_t seed, std::initializer_list<std::uint64_t> keys);

  // 64 random bits: xoshiro256** 1.0 (Blackman and Vigna, https://prng.di.unimi.it/xoshiro256starstar.c).
  // Inline: routing draws tens of millions per comparison.
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform();                     // [0, 1), 53 bits
  double uniform_open();                // (0, 1): safe to take the log of
  std::uint64_t below(std::uint64_t n); // uniform in [0, n), n > 0, without modulo bias
  double normal();                      // standard normal (Marsaglia's polar method)
  double exponential();                 // Exp(1)
  // log of a Gamma(shape, 1) draw (Marsaglia-Tsang; shape < 1 through Gamma(shape+1) * U^(1/shape)).
  // In logs, so that tiny shapes (a sharply skewed Dirichlet) never underflow to zero.
  double log_gamma(double shape);

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
  double spare_normal_ = 0;
  bool has_spare_ = false;
};

}  // namespace ecsim
