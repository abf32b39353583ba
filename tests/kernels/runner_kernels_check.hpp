// What the tests of the small kernels the runner added share: tests/kernels/runner_gpu_test.cpp (on
// the GPU) and tests/emulation/elementwise_emulated_test.cpp (the same code under the CPU
// emulation). Both run the launchers of kernels/silu.cu, bias.cu, residual_add.cu and cast.cu on
// host arrays (a GPU run uploads the inputs and downloads the outputs) and compare each output with
// its reference on inputs these functions draw. Tolerances, |kernel - ref| <= atol + rtol |ref|:
//   silu y, dx; bias_add; residual_add   bf16 outputs: bf16_tolerance
//   bias_grad                            an fp32 sum of `rows` terms: fp32_sum_tolerance; into bf16
//                                        gradients (rounded once per write): bf16_tolerance
//   cast                                 exact: the host's round to nearest even (cuda_bf16.h)
#pragma once

#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "elementwise_check.hpp"  // ActivationKernels, Bf16Vector
#include "gpu_check.hpp"
#include "model_ref/silu.hpp"

namespace ecsim::test {

// ---- silu.cu: silu_fwd and silu_bwd on x in [-6, 6) (both tails of the sigmoid) and dy in [-1, 1).

// Shapes both tests run: not a multiple of the block size, in 2-byte elements (not a multiple of 8,
// kernels/bf16_chunks.cuh); and 2^16, in 16-byte vectors.
inline constexpr std::size_t kSiluElements = (1u << 16) + 5;
inline constexpr std::size_t kSiluVectorElements = 1u << 16;

inline std::string check_silu(std::size_t n, std::uint64_t seed, const ActivationKernels& kernels) {
  CAPTURE(seed);
  CAPTURE(n);
  const auto x = rounded(n, seed, -6, 6), dy = rounded(n, seed + 1);
  const ActivationOutputs out = kernels(to_bf16(x), to_bf16(dy));
  const auto y = model_ref::silu_fwd(x), dx = model_ref::silu_bwd(x, dy);
  CheckLog log;
  log.check("silu_fwd", to_double(std::span<const __nv_bfloat16>(out.y)), y, bf16_tolerance(y));
  log.check("silu_bwd", to_double(std::span<const __nv_bfloat16>(out.dx)), dx, bf16_tolerance(dx));
  return log.summary();
}

// ---- bias.cu and residual_add.cu.

struct BiasShape {
  std::int64_t groups, rows, n;  // y [groups, rows, n], bias [groups, n]
};

// Shape both tests run: 3 groups (bias_grad's grid y), 77 rows (not a multiple of the 8 row
// lanes), 40 columns (a full and a partial 32-column tile; 16-byte vectors in bias_add). And 37
// columns, which bias_add and residual_add move in 2-byte elements (kernels/bf16_chunks.cuh).
inline constexpr BiasShape kBiasShape{3, 77, 40};
inline constexpr BiasShape kBiasElementShape{3, 77, 37};
// bias_grad's row chunks (kernels/bias.cu): kBiasShape's rows are 2 chunks (39 and 38 rows); 1000
// rows of 40 are 16 chunks of 63, the last 55; 64 groups of 264 columns (576 tiles) need none.
inline constexpr BiasShape kBiasChunkShape{1, 1000, 40};
inline constexpr BiasShape kBiasOneChunkShape{64, 5, 264};

struct BiasOutputs {
  Bf16Vector y;                    // [G, rows, n] y0 after bias_add of bias
  std::vector<float> dbias;        // [G, n]       bias_grad of y0, GradientWrite::kOverwrite
  Bf16Vector sum;                  // [G, rows, n] residual_add of y0 and itself (x and y the same buffer)
  std::vector<float> dbias_twice;  // [G, n]       bias_grad of y0 into dbias_twice, then again with kAccumulate
  Bf16Vector dbias_bf16;           // [G, n]       dbias, and dbias_twice, into bf16 gradients
  Bf16Vector dbias_bf16_twice;     // [G, n]
};

// bias_grad over y0 first (twice more into dbias_twice: kOverwrite, then kAccumulate; the same
// into bf16 dbias_bf16 and dbias_bf16_twice), residual_add(y0, y0) next, then bias_add in place
// into y0.
using BiasKernels = std::function<BiasOutputs(const BiasShape& s, const Bf16Vector& y0, const Bf16Vector& bias)>;

// y0 and bias in [-1, 1).
inline std::string check_bias_residual_add(const BiasShape& s, std::uint64_t seed, const BiasKernels& kernels) {
  CAPTURE(seed);
  CAPTURE(s.groups);
  CAPTURE(s.rows);
  CAPTURE(s.n);
  const auto y0 = rounded(static_cast<std::size_t>(s.groups * s.rows * s.n), seed);
  const auto b = rounded(static_cast<std::size_t>(s.groups * s.n), seed + 1);
  const BiasOutputs out = kernels(s, to_bf16(y0), to_bf16(b));
  std::vector<double> ry(y0), rdb(static_cast<std::size_t>(s.groups * s.n), 0.0), rsum(y0.size());
  for (std::int64_t g = 0; g < s.groups; ++g) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
      for (std::int64_t i = 0; i < s.n; ++i) {
        const auto k = static_cast<std::size_t>((g * s.rows + r) * s.n + i);
        ry[k] += b[static_cast<std::size_t>(g * s.n + i)];
        rdb[static_cast<std::size_t>(g * s.n + i)] += y0[k];
        rsum[k] = 2 * y0[k];
      }
    }
  }
  CheckLog log;
  log.check("bias_add", to_double(std::span<const __nv_bfloat16>(out.y)), ry, bf16_tolerance(ry));
  log.check("bias_grad", to_double(out.dbias), rdb, fp32_sum_tolerance(rdb));
  std::vector<double> rdb2(rdb);
  for (double& v : rdb2) v *= 2;
  log.check("bias_grad accumulated", to_double(out.dbias_twice), rdb2, fp32_sum_tolerance(rdb2));
  // Into bf16: the fp32 sum rounded once; accumulated, the rounded first sum plus the second, rounded
  // again (at most 3 half-ulps of the first sum: within one ulp of the result).
  log.check("bias_grad into bf16", to_double(std::span<const __nv_bfloat16>(out.dbias_bf16)), rdb,
            bf16_tolerance(rdb));
  log.check("bias_grad into bf16 accumulated", to_double(std::span<const __nv_bfloat16>(out.dbias_bf16_twice)), rdb2,
            bf16_tolerance(rdb2));
  log.check("residual_add", to_double(std::span<const __nv_bfloat16>(out.sum)), rsum, bf16_tolerance(rsum));
  return log.summary();
}

// ---- cast.cu: fp32 -> bf16.

// Shapes both tests run: 1000 values, in 16-byte vectors; 1001, in elements, four blocks, the last
// partial.
inline constexpr std::size_t kCastElements = 1000;
inline constexpr std::size_t kCastOddElements = 1001;

using CastKernel = std::function<Bf16Vector(const std::vector<float>& in)>;

// Values in [-100, 100), compared exactly with the host's rounding of the same fp32 values.
inline std::string check_cast(std::size_t n, std::uint64_t seed, const CastKernel& kernel) {
  CAPTURE(seed);
  CAPTURE(n);
  const std::vector<float> in = to_float(random_values(n, seed, -100, 100));
  const Bf16Vector out = kernel(in);
  std::vector<double> expected(n);
  for (std::size_t i = 0; i < n; ++i) expected[i] = static_cast<double>(__bfloat162float(__float2bfloat16(in[i])));
  CheckLog log;
  log.check("cast", to_double(std::span<const __nv_bfloat16>(out)), expected, {0.0, 0.0});
  return log.summary();
}

}  // namespace ecsim::test
