#include "ref/gelu.hpp"

#include <cmath>
#include <numbers>

#include "ref/tensor.hpp"

namespace ecsim::ref {
namespace {

const double kSqrt2OverPi = std::sqrt(2.0 / std::numbers::pi);
constexpr double kCubic = 0.044715;

}  // namespace

std::vector<double> gelu_fwd(std::span<const double> x) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = kSqrt2OverPi * (x[i] + kCubic * x[i] * x[i] * x[i]);
    y[i] = 0.5 * x[i] * (1.0 + std::tanh(u));
  }
  return y;
}

std::vector<double> gelu_bwd(std::span<const double> x, std::span<const double> dy) {
  require_size(dy, static_cast<std::int64_t>(x.size()), "gelu_bwd", "dy");
  std::vector<double> dx(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double th = std::tanh(kSqrt2OverPi * (x[i] + kCubic * x[i] * x[i] * x[i]));
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kCubic * x[i] * x[i]);
    dx[i] = dy[i] * (0.5 * (1.0 + th) + 0.5 * x[i] * (1.0 - th * th) * du);
  }
  return dx;
}

}  // namespace ecsim::ref
