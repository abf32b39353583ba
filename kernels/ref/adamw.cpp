#include "ref/adamw.hpp"

#include <cmath>

#include "ref/tensor.hpp"

namespace ecsim::ref {

void adamw_step(const AdamWConfig& c, std::int64_t step, std::span<float> param, std::span<const float> grad,
                std::span<float> m, std::span<float> v) {
  require(step >= 1, "adamw_step: step counts from 1, got " + std::to_string(step));
  require(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, "adamw_step: betas must lie in [0, 1)");
  const auto n = static_cast<std::int64_t>(param.size());
  require_size(grad, n, "adamw_step", "grad");
  require_size(std::span<const float>(m), n, "adamw_step", "m");
  require_size(std::span<const float>(v), n, "adamw_step", "v");
  const double t = static_cast<double>(step);
  const double correction1 = 1.0 - std::pow(c.beta1, t);
  const double correction2 = 1.0 - std::pow(c.beta2, t);
  for (std::size_t i = 0; i < param.size(); ++i) {
    const double g = grad[i];
    const double mi = c.beta1 * m[i] + (1.0 - c.beta1) * g;
    const double vi = c.beta2 * v[i] + (1.0 - c.beta2) * g * g;
    const double decayed = param[i] * (1.0 - c.lr * c.weight_decay);
    param[i] = static_cast<float>(decayed - c.lr * (mi / correction1) / (std::sqrt(vi / correction2) + c.eps));
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
  }
}

}  // namespace ecsim::ref
