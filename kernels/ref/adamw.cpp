#include "ref/adamw.hpp"

#include <cmath>

#include "ref/tensor.hpp"

namespace ecsim::ref {

namespace {

// One step, each stored value through `store` (fp32 rounding, or bf16).
template <class Store>
void step_with(const AdamWConfig& c, std::int64_t step, std::span<float> param, std::span<const float> grad,
               std::span<float> m, std::span<float> v, Store store) {
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
    param[i] = store(decayed - c.lr * (mi / correction1) / (std::sqrt(vi / correction2) + c.eps));
    m[i] = store(mi);
    v[i] = store(vi);
  }
}

}  // namespace

void adamw_step(const AdamWConfig& c, std::int64_t step, std::span<float> param, std::span<const float> grad,
                std::span<float> m, std::span<float> v) {
  step_with(c, step, param, grad, m, v, [](double x) { return static_cast<float>(x); });
}

void adamw_step_bf16(const AdamWConfig& c, std::int64_t step, std::span<float> param, std::span<const float> grad,
                     std::span<float> m, std::span<float> v) {
  step_with(c, step, param, grad, m, v, [](double x) { return static_cast<float>(round_to_bf16(x)); });
}

}  // namespace ecsim::ref
