#include "model_ref/dense_ffn.hpp"

#include "model_ref/linear.hpp"
#include "ref/gelu.hpp"

namespace ecsim::model_ref {

DenseFfnForward dense_ffn_fwd(const DenseFfnRefs& p, std::span<const double> params, std::span<const double> x,
                              std::int64_t tokens, const Tracer& trace) {
  DenseFfnForward f;
  f.tokens = tokens;
  f.x.assign(x.begin(), x.end());
  trace("gemm", "ffn.fc1");
  f.u = linear_fwd(p.fc1, params, x, tokens);
  trace("gelu", "ffn.gelu");
  f.g = ref::gelu_fwd(f.u);
  trace("gemm", "ffn.fc2");
  f.y = linear_fwd(p.fc2, params, f.g, tokens);
  return f;
}

std::vector<double> dense_ffn_bwd(const DenseFfnRefs& p, std::span<const double> params, const DenseFfnForward& f,
                                  std::span<const double> dy, std::span<double> grads) {
  const std::vector<double> dg = linear_bwd(p.fc2, params, f.g, dy, f.tokens, grads);
  return linear_bwd(p.fc1, params, f.x, ref::gelu_bwd(f.u, dg), f.tokens, grads);
}

}  // namespace ecsim::model_ref
