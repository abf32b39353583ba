#include "model_ref/linear.hpp"

#include "ref/gemm.hpp"

namespace ecsim::model_ref {

std::vector<double> linear_fwd(const LinearRef& l, std::span<const double> params, std::span<const double> x,
                               std::int64_t rows) {
  return ref::gemm({rows, l.out, l.in}, x, at(params, l.weight), at(params, l.bias));
}

std::vector<double> linear_bwd(const LinearRef& l, std::span<const double> params, std::span<const double> x,
                               std::span<const double> dy, std::int64_t rows, std::span<double> grads) {
  ref::GemmGrads g = ref::gemm_bwd({rows, l.out, l.in}, x, at(params, l.weight), dy);
  const auto dw = at(grads, l.weight);
  for (std::size_t i = 0; i < dw.size(); ++i) dw[i] += g.dw[i];
  const auto db = at(grads, l.bias);
  for (std::size_t i = 0; i < db.size(); ++i) db[i] += g.dbias[i];
  return std::move(g.dx);
}

}  // namespace ecsim::model_ref
