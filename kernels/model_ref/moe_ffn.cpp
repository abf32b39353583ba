#include "model_ref/moe_ffn.hpp"

#include <string>

#include "model_ref/linear.hpp"
#include "precondition.hpp"
#include "ref/gelu.hpp"
#include "ref/gemm.hpp"
#include "ref/softmax.hpp"

namespace ecsim::model_ref {
namespace {

// Expert e's rows are [e rows_per_expert, (e + 1) rows_per_expert) of y [E rows_per_expert, width].
void add_expert_bias(std::span<double> y, std::span<const double> bias, std::int64_t experts,
                     std::int64_t rows_per_expert, std::int64_t width) {
  for (std::int64_t e = 0; e < experts; ++e) {
    for (std::int64_t r = 0; r < rows_per_expert; ++r) {
      for (std::int64_t i = 0; i < width; ++i) y[(e * rows_per_expert + r) * width + i] += bias[e * width + i];
    }
  }
}

// dbias[e] += column sums of expert e's rows of dy.
void add_expert_bias_grad(std::span<double> dbias, std::span<const double> dy, std::int64_t experts,
                          std::int64_t rows_per_expert, std::int64_t width) {
  for (std::int64_t e = 0; e < experts; ++e) {
    for (std::int64_t r = 0; r < rows_per_expert; ++r) {
      for (std::int64_t i = 0; i < width; ++i) dbias[e * width + i] += dy[(e * rows_per_expert + r) * width + i];
    }
  }
}

void add(std::span<double> to, std::span<const double> from) {
  for (std::size_t i = 0; i < to.size(); ++i) to[i] += from[i];
}

}  // namespace

MoeFfnForward moe_ffn_fwd(const ModelConfig& c, const MoeFfnRefs& p, std::span<const double> params,
                          std::span<const double> x, std::int64_t tokens, const Tracer& trace) {
  require(tokens % c.group_tokens == 0, "moe_ffn_fwd: expert choice routes whole groups of " +
                                            std::to_string(c.group_tokens) + " tokens, the batch has " +
                                            std::to_string(tokens));
  const ExpertsRef& ex = p.experts;
  MoeFfnForward f;
  f.x.assign(x.begin(), x.end());
  trace("gemm", "moe.router");
  const std::vector<double> logits = linear_fwd(p.router, params, x, tokens);  // [T, E]
  trace("ec_route", "moe.route");
  f.probs = ref::softmax_rows(logits, tokens, ex.experts);
  f.routing = ref::ec_route({tokens, ex.experts, c.group_tokens, c.capacity()}, f.probs);
  const std::int64_t per_expert = f.routing.shape.groups() * f.routing.shape.capacity;
  const std::vector<std::int64_t> rows(static_cast<std::size_t>(ex.experts), per_expert);
  trace("permute", "moe.dispatch_gather");
  f.xe = ref::ec_gather(f.routing, x, ex.hidden);
  trace("batched_gemm", "moe.expert_fc1");
  f.u = ref::grouped_gemm(rows, ex.width, ex.hidden, f.xe, at(params, ex.fc1_weight));
  add_expert_bias(f.u, at(params, ex.fc1_bias), ex.experts, per_expert, ex.width);
  trace("gelu", "moe.expert_gelu");
  f.g = ref::gelu_fwd(f.u);
  trace("batched_gemm", "moe.expert_fc2");
  f.ye = ref::grouped_gemm(rows, ex.hidden, ex.width, f.g, at(params, ex.fc2_weight));
  add_expert_bias(f.ye, at(params, ex.fc2_bias), ex.experts, per_expert, ex.hidden);
  trace("unpermute", "moe.combine");
  f.y = ref::ec_combine(f.routing, f.ye, ex.hidden);
  return f;
}

std::vector<double> moe_ffn_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                                std::span<const double> dy, std::span<double> grads) {
  const ExpertsRef& ex = p.experts;
  const ref::ExpertChoiceShape& s = f.routing.shape;
  const std::int64_t per_expert = s.groups() * s.capacity;
  const std::vector<std::int64_t> rows(static_cast<std::size_t>(ex.experts), per_expert);
  const ref::ExpertChoiceCombineGrads dc = ref::ec_combine_bwd(f.routing, f.ye, dy, ex.hidden);
  add_expert_bias_grad(at(grads, ex.fc2_bias), dc.dye, ex.experts, per_expert, ex.hidden);
  const ref::GroupedGemmGrads d2 =
      ref::grouped_gemm_bwd(rows, ex.hidden, ex.width, f.g, at(params, ex.fc2_weight), dc.dye);
  add(at(grads, ex.fc2_weight), d2.dw);
  const std::vector<double> du = ref::gelu_bwd(f.u, d2.dx);  // [E groups C, f]
  add_expert_bias_grad(at(grads, ex.fc1_bias), du, ex.experts, per_expert, ex.width);
  const ref::GroupedGemmGrads d1 =
      ref::grouped_gemm_bwd(rows, ex.width, ex.hidden, f.xe, at(params, ex.fc1_weight), du);
  add(at(grads, ex.fc1_weight), d1.dw);
  std::vector<double> dx = ref::ec_gather_bwd(f.routing, d1.dx, ex.hidden);  // [T, d]
  // Through the gates: d affinity -> d logits -> the router GEMM.
  const std::vector<double> dprobs = ref::ec_gate_bwd(f.routing, dc.dgate);
  const std::vector<double> dlogits = ref::softmax_rows_bwd(f.probs, dprobs, s.tokens, s.experts);
  add(dx, linear_bwd(p.router, params, f.x, dlogits, s.tokens, grads));
  return dx;
}

}  // namespace ecsim::model_ref
