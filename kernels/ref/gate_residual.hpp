// CPU reference for the gated residual of a DiT block (op name `gate_residual`):
//   out[b, s, :] = x[b, s, :] + gate[b, :] * y[b, s, :]
//   x, y, out [B, S, d]; gate [B, d] (adaLN's per-sample gate).
#pragma once

#include <span>
#include <vector>

#include "ref/tensor.hpp"

namespace ecsim::ref {

std::vector<double> gate_residual_fwd(const SampleRows& s, std::span<const double> x, std::span<const double> y,
                                      std::span<const double> gate);

struct GateResidualGrads {
  std::vector<double> dx;     // [B, S, d] = dout
  std::vector<double> dy;     // [B, S, d] = gate * dout
  std::vector<double> dgate;  // [B, d]    = sum over s of dout * y
};
GateResidualGrads gate_residual_bwd(const SampleRows& s, std::span<const double> y, std::span<const double> gate,
                                    std::span<const double> dout);

}  // namespace ecsim::ref
