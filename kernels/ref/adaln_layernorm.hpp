// CPU reference for LayerNorm without affine parameters fused with the adaLN modulation
// (op name `adaln_layernorm`):
//   y[b, s, :] = (x[b, s, :] - mean) * rstd * (1 + scale[b, :]) + shift[b, :]
//   mean, rstd = mean and 1/sqrt(var + eps) of the row x[b, s, :] (biased variance)
//   x, y [B, S, d]; shift, scale [B, d]; mean, rstd [B, S] are kept for the backward.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ref/tensor.hpp"

namespace ecsim::ref {

constexpr double kAdaLnEps = 1e-6;  // DiT's LayerNorm eps

struct AdaLnForward {
  std::vector<double> y;     // [B, S, d]
  std::vector<double> mean;  // [B, S]
  std::vector<double> rstd;  // [B, S]
};

AdaLnForward adaln_layernorm_fwd(const SampleRows& s, std::span<const double> x, std::span<const double> shift,
                                 std::span<const double> scale, double eps = kAdaLnEps);

struct AdaLnGrads {
  std::vector<double> dx;      // [B, S, d]
  std::vector<double> dshift;  // [B, d] = sum over s of dy
  std::vector<double> dscale;  // [B, d] = sum over s of dy * xhat
};

AdaLnGrads adaln_layernorm_bwd(const SampleRows& s, std::span<const double> x, std::span<const double> scale,
                               std::span<const double> mean, std::span<const double> rstd, std::span<const double> dy);

}  // namespace ecsim::ref
