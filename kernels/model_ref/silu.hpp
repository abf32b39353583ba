// SiLU (op `silu`, the timestep embedder's activation "embed.timestep_silu"):
//   silu(x) = x sigmoid(x),   silu'(x) = sigmoid(x) (1 + x (1 - sigmoid(x)))
// Elementwise over any shape. It lives here rather than in kernels/ref because only the embedder
// uses it and the simulator prices it as a plain elementwise op.
#pragma once

#include <span>
#include <vector>

namespace ecsim::model_ref {

std::vector<double> silu_fwd(std::span<const double> x);
std::vector<double> silu_bwd(std::span<const double> x, std::span<const double> dy);

}  // namespace ecsim::model_ref
