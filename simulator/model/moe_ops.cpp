#include "model/model_ops.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace ecsim {
namespace {

double d(std::int64_t v) { return static_cast<double>(v); }

// Two-layer expert FFN over per-expert rows: fc1 -> activation -> fc2.
void append_expert_ffn(std::vector<Op>& ops, const ModelSpec& m, std::int64_t local_experts,
                       const std::vector<std::int64_t>& rows, bool uniform, Component comp,
                       const std::string& prefix, double token_share, std::int64_t tp) {
  const std::int64_t f = m.ffn.width / tp;
  const std::int64_t f_in = m.ffn.activation == Activation::kSwiglu ? 2 * f : f;
  std::int64_t total_rows = 0;
  for (auto r : rows) total_rows += r;
  auto gemm = [&](const std::string& label, std::int64_t n, std::int64_t k) {
    if (uniform) return make_batched_gemm(prefix + label, comp, local_experts, rows.front(), n, k, m.ffn.bias);
    return make_grouped_gemm(prefix + label, comp, rows, n, k, m.ffn.bias);
  };
  Op fc1 = gemm("fc1", f_in, m.hidden);
  Op act = m.ffn.activation == Activation::kGelu
               ? make_elementwise("gelu", prefix + "gelu", comp, total_rows * f, 1, 1, 8, 1)
               : make_elementwise("swiglu", prefix + "swiglu", comp, total_rows * f, 2, 1, 6, 2);
  Op fc2 = gemm("fc2", m.hidden, f);
  for (Op* op : {&fc1, &fc2}) {
    op->sharding = comp == Component::kExperts ? ParamSharding::kExpertParallel : ParamSharding::kReplicated;
    // A token goes through `token_share` experts on average.
    op->activated_params = op->params / d(local_experts) * token_share;  // per tp slice
  }
  ops.push_back(std::move(fc1));
  ops.push_back(std::move(act));
  ops.push_back(std::move(fc2));
}

}  // namespace

std::int64_t expert_choice_capacity(const ModelSpec& m) {
  const auto& r = m.moe.routing;
  return static_cast<std::int64_t>(std::floor(d(r.group_tokens) * r.capacity_factor / d(m.moe.experts)));
}

std::int64_t token_choice_capacity(const ModelSpec& m, std::int64_t tokens) {
  const auto& r = m.moe.routing;
  return static_cast<std::int64_t>(std::ceil(r.capacity_factor * d(tokens) * d(r.top_k) / d(m.moe.experts)));
}

std::vector<Op> moe_ffn_ops(const ModelSpec& m, std::int64_t tokens, const OpContext& ctx) {
  const auto& moe = m.moe;
  const std::int64_t e = moe.experts;
  if (e % ctx.ep != 0) {
    throw InputError("expert parallel degree " + std::to_string(ctx.ep) + " does not divide " + std::to_string(e) +
                     " experts");
  }
  const std::int64_t local = e / ctx.ep;
  std::vector<Op> ops;

  Op router = make_gemm("moe.router", Component::kRouter, tokens, e, m.hidden, false);
  ops.push_back(std::move(router));

  std::vector<std::int64_t> rows;  // tokens per local expert, after dispatch from all ep ranks
  bool uniform = true;
  double token_share = 0;          // experts a token goes through on average
  if (moe.routing.kind == RoutingKind::kExpertChoice) {
    const std::int64_t g = moe.routing.group_tokens;
    if (tokens % g != 0) {
      throw InputError("expert choice routes whole groups of " + std::to_string(g) + " tokens, but a rank routes " +
                       std::to_string(tokens) + " tokens per micro-batch; change the micro-batch size or group_tokens");
    }
    const std::int64_t groups = tokens / g;
    const std::int64_t c = expert_choice_capacity(m);
    // softmax over experts per token, then top-C tokens per (group, expert).
    ops.push_back(make_ec_route("moe.route", tokens, e, g, c));
    const std::int64_t chosen = e * c * groups;  // (expert, token) pairs on this rank
    Op permute = make_elementwise("permute", "moe.dispatch_gather", Component::kRouter, chosen * m.hidden, 1, 1, 0, 0);
    permute.shape = {{"rows", chosen}, {"hidden", m.hidden}};
    permute.is_comm_boundary = true;
    ops.push_back(std::move(permute));
    rows.assign(static_cast<std::size_t>(local), c * groups * ctx.ep);
    token_share = d(chosen) / d(tokens);
  } else {
    const std::int64_t k = moe.routing.top_k;
    ops.push_back(make_tc_route("moe.route", tokens, e, k));
    if (!ctx.expert_rows.empty()) {
      if (static_cast<std::int64_t>(ctx.expert_rows.size()) != local) {
        throw RuntimeFailure("expert_rows has " + std::to_string(ctx.expert_rows.size()) + " entries for " +
                             std::to_string(local) + " local experts");
      }
      rows = ctx.expert_rows;
      uniform = false;
    } else if (moe.routing.dropless()) {
      // Uniform loads: tokens*k/E per expert from each of the ep ranks.
      rows.assign(static_cast<std::size_t>(local),
                  static_cast<std::int64_t>(std::llround(d(tokens * k) / d(e))) * ctx.ep);
      uniform = false;
    } else {
      // Capacity buffers are padded: every expert computes its full capacity.
      rows.assign(static_cast<std::size_t>(local), token_choice_capacity(m, tokens) * ctx.ep);
    }
    Op permute = make_elementwise("permute", "moe.dispatch_gather", Component::kRouter, tokens * k * m.hidden, 1, 1, 0, 0);
    permute.shape = {{"rows", tokens * k}, {"hidden", m.hidden}};
    permute.is_comm_boundary = true;
    ops.push_back(std::move(permute));
    token_share = d(k);
  }
  append_expert_ffn(ops, m, local, rows, uniform, Component::kExperts, "moe.expert_", token_share, ctx.tp);
  // Gate-weighted combine back to token order (a deterministic gather-sum, no atomics). With a
  // balanced dispatch a rank gets back as many rows as its local experts computed.
  std::int64_t routed = 0;
  for (auto r : rows) routed += r;
  Op combine = make_elementwise("unpermute", "moe.combine", Component::kRouter, routed * m.hidden, 1, 0, 2, 1);
  combine.fwd_written = {d(tokens) * d(m.hidden) * kBf16Bytes};
  combine.shape = {{"rows", routed}, {"tokens", tokens}, {"hidden", m.hidden}};
  combine.is_comm_boundary = true;
  ops.push_back(std::move(combine));

  if (moe.shared_experts > 0) {
    std::vector<std::int64_t> shared_rows(static_cast<std::size_t>(moe.shared_experts), tokens);
    append_expert_ffn(ops, m, moe.shared_experts, shared_rows, true, Component::kSharedExperts, "moe.shared_",
                      d(moe.shared_experts), ctx.tp);
  }
  return ops;
}

}  // namespace ecsim
