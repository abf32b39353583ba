#include "model_ref/moe_ffn.hpp"

#include <string>

#include "model_ref/linear.hpp"
#include "precondition.hpp"
#include "ref/softmax.hpp"

namespace ecsim::model_ref {
namespace {

void add(std::span<double> to, std::span<const double> from) {
  for (std::size_t i = 0; i < to.size(); ++i) to[i] += from[i];
}

// moe.router and the softmax that opens moe.route: f.x and f.probs [T, E].
void router_fwd(const MoeFfnRefs& p, std::span<const double> params, std::span<const double> x, std::int64_t tokens,
                const char* route_op, const Tracer& trace, MoeFfnForward& f) {
  f.x.assign(x.begin(), x.end());
  trace("gemm", "moe.router");
  const std::vector<double> logits = linear_fwd(p.router, params, x, tokens);  // [T, E]
  trace(route_op, "moe.route");
  f.probs = ref::softmax_rows(logits, tokens, p.experts.experts);
}

// dx += the router's share, from the affinities' gradient dprobs [T, E].
void router_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                std::span<const double> dprobs, std::span<double> dx, std::span<double> grads) {
  const auto tokens = static_cast<std::int64_t>(f.x.size()) / p.experts.hidden;
  const std::vector<double> dlogits = ref::softmax_rows_bwd(f.probs, dprobs, tokens, p.experts.experts);
  add(dx, linear_bwd(p.router, params, f.x, dlogits, tokens, grads));
}

void expert_choice_fwd(const ModelConfig& c, const MoeFfnRefs& p, std::span<const double> params,
                       std::span<const double> x, std::int64_t tokens, const Tracer& trace, MoeFfnForward& f) {
  require(tokens % c.group_tokens == 0, "moe_ffn_fwd: expert choice routes whole groups of " +
                                            std::to_string(c.group_tokens) + " tokens, the batch has " +
                                            std::to_string(tokens));
  const ExpertsRef& ex = p.experts;
  router_fwd(p, params, x, tokens, "ec_route", trace, f);
  f.routing = ref::ec_route({tokens, ex.experts, c.group_tokens, c.capacity()}, f.probs);
  f.rows.assign(static_cast<std::size_t>(ex.experts), f.routing.shape.groups() * f.routing.shape.capacity);
  trace("permute", "moe.dispatch_gather");
  f.xe = ref::ec_gather(f.routing, x, ex.hidden);
  f.experts = expert_ffn_fwd(ex, params, f.rows, f.xe, "batched_gemm", trace);
  trace("unpermute", "moe.combine");
  f.y = ref::ec_combine(f.routing, f.experts.ye, ex.hidden);
}

void token_choice_fwd(const ModelConfig& c, const MoeFfnRefs& p, std::span<const double> params,
                      std::span<const double> x, std::int64_t tokens, const Tracer& trace, MoeFfnForward& f) {
  const ExpertsRef& ex = p.experts;
  router_fwd(p, params, x, tokens, "tc_route", trace, f);
  f.token_routing = ref::tc_route({tokens, ex.experts, c.top_k, c.token_choice_capacity(tokens), false}, f.probs);
  const std::vector<std::int64_t>& offsets = f.token_routing.expert_offsets;
  for (std::int64_t e = 0; e < ex.experts; ++e) f.rows.push_back(offsets[e + 1] - offsets[e]);
  trace("permute", "moe.dispatch_gather");
  f.xe = ref::tc_permute(f.token_routing, x, ex.hidden);
  // The simulator pads capacity buffers to C rows per expert (one batched GEMM), dropless is ragged.
  f.experts = expert_ffn_fwd(ex, params, f.rows, f.xe, c.dropless() ? "grouped_gemm" : "batched_gemm", trace);
  trace("unpermute", "moe.combine");
  f.y = ref::tc_unpermute(f.token_routing, f.experts.ye, ex.hidden);
}

std::vector<double> expert_choice_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                                      std::span<const double> dy, std::span<double> grads) {
  const ExpertsRef& ex = p.experts;
  const ref::ExpertChoiceCombineGrads dc = ref::ec_combine_bwd(f.routing, f.experts.ye, dy, ex.hidden);
  const std::vector<double> dxe = expert_ffn_bwd(ex, params, f.rows, f.xe, f.experts, dc.dye, grads);
  std::vector<double> dx = ref::ec_gather_bwd(f.routing, dxe, ex.hidden);  // [T, d]
  router_bwd(p, params, f, ref::ec_gate_bwd(f.routing, dc.dgate), dx, grads);
  return dx;
}

std::vector<double> token_choice_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                                     std::span<const double> dy, std::span<double> grads) {
  const ExpertsRef& ex = p.experts;
  const ref::TokenChoiceUnpermuteGrads du = ref::tc_unpermute_bwd(f.token_routing, f.experts.ye, dy, ex.hidden);
  const std::vector<double> dxe = expert_ffn_bwd(ex, params, f.rows, f.xe, f.experts, du.dyp, grads);
  std::vector<double> dx = ref::tc_permute_bwd(f.token_routing, dxe, ex.hidden);  // [T, d]
  router_bwd(p, params, f, ref::tc_gate_bwd(f.token_routing, f.probs, du.dgate), dx, grads);
  return dx;
}

}  // namespace

MoeFfnForward moe_ffn_fwd(const ModelConfig& c, const MoeFfnRefs& p, std::span<const double> params,
                          std::span<const double> x, std::int64_t tokens, const Tracer& trace) {
  MoeFfnForward f;
  f.kind = c.routing;
  if (c.routing == Routing::kTokenChoice) {
    token_choice_fwd(c, p, params, x, tokens, trace, f);
  } else {
    expert_choice_fwd(c, p, params, x, tokens, trace, f);
  }
  return f;
}

std::vector<double> moe_ffn_bwd(const MoeFfnRefs& p, std::span<const double> params, const MoeFfnForward& f,
                                std::span<const double> dy, std::span<double> grads) {
  return f.kind == Routing::kTokenChoice ? token_choice_bwd(p, params, f, dy, grads)
                                         : expert_choice_bwd(p, params, f, dy, grads);
}

}  // namespace ecsim::model_ref
