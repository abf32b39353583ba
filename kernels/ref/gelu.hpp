// CPU reference for GeLU in its tanh form (op name `gelu`), the expert and FFN activation:
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// Elementwise over any shape.
#pragma once

#include <span>
#include <vector>

namespace ecsim::ref {

std::vector<double> gelu_fwd(std::span<const double> x);
// dx = dy * gelu'(x), gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
std::vector<double> gelu_bwd(std::span<const double> x, std::span<const double> dy);

}  // namespace ecsim::ref
