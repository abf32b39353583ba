#include "model_ref/silu.hpp"

#include <cmath>

#include "ref/tensor.hpp"

namespace ecsim::model_ref {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

std::vector<double> silu_fwd(std::span<const double> x) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] * sigmoid(x[i]);
  return y;
}

std::vector<double> silu_bwd(std::span<const double> x, std::span<const double> dy) {
  ref::require_size(dy, static_cast<std::int64_t>(x.size()), "silu_bwd", "dy");
  std::vector<double> dx(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double s = sigmoid(x[i]);
    dx[i] = dy[i] * s * (1.0 + x[i] * (1.0 - s));
  }
  return dx;
}

}  // namespace ecsim::model_ref
