// What the adaLN LayerNorm kernel tests share: tests/kernels/adaln_layernorm_gpu_test.cpp (on the
// GPU) and tests/emulation/adaln_layernorm_emulated_test.cpp (the same code under the CPU
// emulation). Both run kernels/adaln_layernorm.cu's launchers on host arrays (a GPU run uploads the
// inputs and downloads the outputs) and compare each output with the CPU reference
// (kernels/ref/adaln_layernorm.hpp) on inputs drawn here. Tolerances, |kernel - ref| <= atol + rtol |ref|:
//   y, dx, dshift, dscale   bf16 outputs: bf16_tolerance (dx = the LayerNorm's gradient plus the
//                           residual path's, added in fp32 and rounded once)
//   mean                    an fp32 mean of d terms in [-1, 3): atol 1e-6, rtol 1e-5 (the error is
//                           set by the terms' size, not the mean's, hence an absolute part)
//   rstd                    rtol 1e-5
#pragma once

#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gpu_check.hpp"  // Tolerance, CheckLog, conversions, random inputs (no device needed for these)
#include "ref/adaln_layernorm.hpp"

namespace ecsim::test {

struct AdaLnInputs {
  std::vector<__nv_bfloat16> x, dy;         // [B, S, d]
  std::vector<__nv_bfloat16> shift, scale;  // [B, d]
  float eps;
  std::vector<__nv_bfloat16> dresidual;     // [B, S, d], or empty: the backward gets null
  std::int64_t vector_stride = 0;           // shift, scale (dshift, dscale) rows this far apart; 0: packed
};

struct AdaLnOutputs {
  std::vector<__nv_bfloat16> y;               // [B, S, d] adaln_layernorm_fwd
  std::vector<float> mean, rstd;              // [B, S]    adaln_layernorm_fwd
  std::vector<__nv_bfloat16> dx;              // [B, S, d] adaln_layernorm_bwd, from the kernel's mean, rstd,
                                              //           plus dresidual
  std::vector<__nv_bfloat16> dshift, dscale;  // [B, d]    adaln_layernorm_bwd (rows vector_stride apart)
};

// The forward, then the backward on the forward's own mean and rstd.
using AdaLnKernels = std::function<AdaLnOutputs(const ref::SampleRows& s, const AdaLnInputs& in)>;

// x in [-1, 3) (an offset mean checks that the variance is taken about the mean), shift, scale,
// dy and (with `residual`) the residual path's gradient in [-1, 1), eps 1e-6; dx is compared with
// the reference's plus that gradient. With a `vector_stride`, shift and scale sit in rows that far
// apart (the modulation's output read in place), the gaps holding other values; the kernels' dshift
// and dscale come back in such rows (the runs size them batch x stride) with their gaps untouched.
inline std::string check_adaln_layernorm(const ref::SampleRows& s, std::uint64_t seed, const AdaLnKernels& kernels,
                                         bool residual, std::int64_t vector_stride = 0) {
  CAPTURE(seed);
  CAPTURE(residual);
  CAPTURE(vector_stride);
  CAPTURE(s.batch);
  CAPTURE(s.seq);
  CAPTURE(s.hidden);
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = static_cast<std::size_t>(s.vector_elements());
  const auto x = rounded(n, seed, -1, 3), shift = rounded(nv, seed + 1), scale = rounded(nv, seed + 2);
  const auto dy = rounded(n, seed + 3);
  const std::vector<double> dresidual = residual ? rounded(n, seed + 4) : std::vector<double>{};
  const float eps = 1e-6f;
  const std::int64_t stride = vector_stride != 0 ? vector_stride : s.hidden;
  const AdaLnOutputs out = kernels(s, {to_bf16(x), to_bf16(dy), to_bf16(spread_rows(shift, s.hidden, stride, seed + 5)),
                                       to_bf16(spread_rows(scale, s.hidden, stride, seed + 6)), eps,
                                       to_bf16(dresidual), vector_stride});
  bool gaps_poisoned = true;
  const auto vectors = [&](const std::vector<__nv_bfloat16>& v) {
    return gather_rows(to_double(std::span<const __nv_bfloat16>(v)), s.hidden, stride, gaps_poisoned);
  };

  const auto f = ref::adaln_layernorm_fwd(s, x, shift, scale, eps);
  auto g = ref::adaln_layernorm_bwd(s, x, scale, f.mean, f.rstd, dy);
  for (std::size_t i = 0; i < dresidual.size(); ++i) g.dx[i] += dresidual[i];
  CheckLog log;
  log.check("y", to_double(std::span<const __nv_bfloat16>(out.y)), f.y, bf16_tolerance(f.y));
  log.check("mean", to_double(out.mean), f.mean, {1e-6, 1e-5});
  log.check("rstd", to_double(out.rstd), f.rstd, {0.0, 1e-5});
  log.check("dx", to_double(std::span<const __nv_bfloat16>(out.dx)), g.dx, bf16_tolerance(g.dx));
  log.check("dshift", vectors(out.dshift), g.dshift, bf16_tolerance(g.dshift));
  log.check("dscale", vectors(out.dscale), g.dscale, bf16_tolerance(g.dscale));
  CHECK_MESSAGE(gaps_poisoned, "the backward wrote between the rows of dshift or dscale");
  return log.summary();
}

}  // namespace ecsim::test
