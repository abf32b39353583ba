#include "model_ref/block.hpp"

#include "model_ref/linear.hpp"
#include "model_ref/modulation.hpp"
#include "ref/gate_residual.hpp"

namespace ecsim::model_ref {
namespace {

void add(std::vector<double>& to, std::span<const double> from) {
  for (std::size_t i = 0; i < to.size(); ++i) to[i] += from[i];
}

}  // namespace

BlockForward block_fwd(const ModelConfig& c, const BlockRefs& p, std::span<const double> params, const BlockInput& in,
                       const Tracer& trace) {
  const std::int64_t b = in.images, d = c.hidden;
  const std::int64_t tokens = in.images * in.seq;
  const ref::SampleRows rows{b, in.seq, d};
  auto vec = [&](const std::vector<double>& mod, std::int64_t i) {
    return modulation_vector(mod, b, kBlockVectors, d, i);
  };
  BlockForward f;
  f.images = in.images;
  f.seq = in.seq;
  f.x.assign(in.x.begin(), in.x.end());
  f.cond.assign(in.cond.begin(), in.cond.end());

  trace("gemm", "adaln.modulation");
  f.mod = linear_fwd(p.modulation, params, in.cond, b);  // [B, 6d]

  trace("adaln_layernorm", "self_attn.norm");
  f.self_norm = ref::adaln_layernorm_fwd(rows, f.x, vec(f.mod, kShiftMsa), vec(f.mod, kScaleMsa));
  f.self_attn = self_attention_fwd(c, p.self_attn, params, f.self_norm.y, b, in.seq, trace);
  trace("gate_residual", "self_attn.residual");
  f.x1 = ref::gate_residual_fwd(rows, f.x, f.self_attn.y, vec(f.mod, kGateMsa));

  f.x2 = f.x1;
  if (p.cross) {
    const std::vector<double> zeros(static_cast<std::size_t>(b * d), 0.0);  // [B, d]
    trace("layernorm", "cross_attn.norm");
    f.cross_norm = ref::adaln_layernorm_fwd(rows, f.x1, zeros, zeros);
    f.cross_attn = cross_attention_fwd(c, p.cross_attn, params, f.cross_norm.y, in.text, b, in.seq, trace);
    trace("residual_add", "cross_attn.residual");
    add(f.x2, f.cross_attn.y);
  }

  trace("adaln_layernorm", "ffn.norm");
  f.ffn_norm = ref::adaln_layernorm_fwd(rows, f.x2, vec(f.mod, kShiftFfn), vec(f.mod, kScaleFfn));
  const std::vector<double>* y = nullptr;  // [B S, d] the FFN's output
  if (p.moe) {
    f.moe = moe_ffn_fwd(c, p.moe_ffn, params, f.ffn_norm.y, tokens, trace);
    y = &f.moe.y;
  } else {
    f.ffn = dense_ffn_fwd(p.ffn, params, f.ffn_norm.y, tokens, trace);
    y = &f.ffn.y;
  }
  trace("gate_residual", "ffn.residual");
  f.out = ref::gate_residual_fwd(rows, f.x2, *y, vec(f.mod, kGateFfn));
  return f;
}

BlockGrads block_bwd(const ModelConfig& c, const BlockRefs& p, std::span<const double> params, const BlockForward& f,
                     std::span<const double> dout, std::span<double> grads) {
  const std::int64_t d = c.hidden;
  const std::int64_t b = f.images;
  const ref::SampleRows rows{b, f.seq, d};
  auto vec = [&](std::int64_t i) { return modulation_vector(f.mod, b, kBlockVectors, d, i); };
  std::vector<double> dmod(f.mod.size(), 0.0);  // [B, 6d]
  auto add_dmod = [&](std::int64_t i, std::span<const double> dv) {
    add_modulation_grad(dmod, b, kBlockVectors, d, i, dv);
  };

  // ffn.residual: out = X2 + gate_ffn * y
  const ref::GateResidualGrads gr2 = ref::gate_residual_bwd(rows, p.moe ? f.moe.y : f.ffn.y, vec(kGateFfn), dout);
  add_dmod(kGateFfn, gr2.dgate);
  std::vector<double> dx2 = gr2.dx;
  const std::vector<double> dffn_in = p.moe ? moe_ffn_bwd(p.moe_ffn, params, f.moe, gr2.dy, grads)
                                            : dense_ffn_bwd(p.ffn, params, f.ffn, gr2.dy, grads);
  const ref::AdaLnGrads n3 =
      ref::adaln_layernorm_bwd(rows, f.x2, vec(kScaleFfn), f.ffn_norm.mean, f.ffn_norm.rstd, dffn_in);
  add(dx2, n3.dx);
  add_dmod(kShiftFfn, n3.dshift);
  add_dmod(kScaleFfn, n3.dscale);

  // cross_attn.residual: X2 = X1 + cross(LN(X1)); the plain LayerNorm has no parameters.
  std::vector<double> dx1 = dx2;
  if (p.cross) {
    const std::vector<double> dnorm = cross_attention_bwd(p.cross_attn, params, f.cross_attn, dx2, grads);
    const std::vector<double> zeros(static_cast<std::size_t>(b * d), 0.0);
    add(dx1, ref::adaln_layernorm_bwd(rows, f.x1, zeros, f.cross_norm.mean, f.cross_norm.rstd, dnorm).dx);
  }

  // self_attn.residual: X1 = X + gate_msa * attn
  const ref::GateResidualGrads gr1 = ref::gate_residual_bwd(rows, f.self_attn.y, vec(kGateMsa), dx1);
  add_dmod(kGateMsa, gr1.dgate);
  std::vector<double> dx = gr1.dx;
  const std::vector<double> dattn_in = self_attention_bwd(p.self_attn, params, f.self_attn, gr1.dy, grads);
  const ref::AdaLnGrads n1 =
      ref::adaln_layernorm_bwd(rows, f.x, vec(kScaleMsa), f.self_norm.mean, f.self_norm.rstd, dattn_in);
  add(dx, n1.dx);
  add_dmod(kShiftMsa, n1.dshift);
  add_dmod(kScaleMsa, n1.dscale);

  return {std::move(dx), linear_bwd(p.modulation, params, f.cond, dmod, b, grads)};
}

}  // namespace ecsim::model_ref
