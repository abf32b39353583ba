#include "model/model_ops.hpp"

#include "core/errors.hpp"

namespace ecsim {
namespace {

// Local head counts under tensor parallelism: query heads split tp ways; KV heads split too,
// or replicated when there are fewer KV heads than TP ranks (Megatron's GQA rule).
std::int64_t local_kv(std::int64_t kv_heads, std::int64_t tp) { return kv_heads % tp == 0 ? kv_heads / tp : 1; }

Op tp_gemm(std::string label, Component c, std::int64_t m, std::int64_t n, std::int64_t k, bool bias,
           std::int64_t tp) {
  Op op = make_gemm(std::move(label), c, m, n, k, bias);
  if (tp > 1) op.sharding = ParamSharding::kTensorParallel;
  return op;
}

void append_attention(std::vector<Op>& ops, const ModelSpec& m, Component comp, const std::string& prefix,
                      std::int64_t tokens, std::int64_t kv_rows, std::int64_t kv_len, std::int64_t kv_in_width,
                      std::int64_t kv_heads, const OpContext& ctx) {
  const auto& a = m.attention;
  const std::int64_t h = a.heads / ctx.tp;
  const std::int64_t kv = local_kv(kv_heads, ctx.tp);
  const std::int64_t q_len = tokens / ctx.samples;
  const bool self = comp == Component::kSelfAttention;
  if (self) {
    ops.push_back(tp_gemm(prefix + "qkv", comp, tokens, (h + 2 * kv) * a.head_dim, m.hidden, a.qkv_bias, ctx.tp));
  } else {
    ops.push_back(tp_gemm(prefix + "q", comp, tokens, h * a.head_dim, m.hidden, a.qkv_bias, ctx.tp));
    // Its input is the text embedding every block reads, the frozen text encoder's output: the
    // model keeps it once (the batch), not each block, and no gradient flows into it (dW only, as
    // the runner computes it, kernels/runner/device_block.cpp).
    Op kv_proj = without_input_gradient(
        tp_gemm(prefix + "kv", comp, kv_rows, 2 * kv * a.head_dim, kv_in_width, a.qkv_bias, ctx.tp));
    kv_proj.saved = Bytes{};
    ops.push_back(std::move(kv_proj));
  }
  ops.push_back(make_attention(prefix + "attention", comp, ctx.samples, h, kv, q_len, kv_len, a.head_dim,
                               self && a.causal));
  ops.push_back(tp_gemm(prefix + "out", comp, tokens, m.hidden, h * a.head_dim, a.qkv_bias, ctx.tp));
}

void append_dense_ffn(std::vector<Op>& ops, const ModelSpec& m, std::int64_t tokens, const OpContext& ctx) {
  const std::int64_t f = m.ffn.width / ctx.tp;
  const bool swiglu = m.ffn.activation == Activation::kSwiglu;
  ops.push_back(tp_gemm("ffn.fc1", Component::kFfn, tokens, swiglu ? 2 * f : f, m.hidden, m.ffn.bias, ctx.tp));
  ops.push_back(swiglu ? make_elementwise("swiglu", "ffn.swiglu", Component::kFfn, tokens * f, 2, 1, 6, 2)
                       : make_elementwise("gelu", "ffn.gelu", Component::kFfn, tokens * f, 1, 1, 8, 1));
  ops.push_back(tp_gemm("ffn.fc2", Component::kFfn, tokens, m.hidden, f, m.ffn.bias, ctx.tp));
}

void append_ffn(std::vector<Op>& ops, const ModelSpec& m, std::int64_t layer, std::int64_t tokens,
                const OpContext& ctx) {
  if (!m.moe.is_moe_layer(layer)) {
    append_dense_ffn(ops, m, tokens, ctx);
    return;
  }
  // MoE layers: TP ranks route the same tokens and each computes its F/tp slice of every local expert
  // (expert tensor parallelism equal to TP), as the dense FFN does.
  for (Op& op : moe_ffn_ops(m, tokens, ctx)) ops.push_back(std::move(op));
}

// A block's norms start residual branches (x -> norm -> ... -> x + branch): the gradient reaching x
// along the residual path is added to the norm's input gradient in the norm's backward (one more
// read of x's size), as kernels/adaln_layernorm.cu does. Every norm is priced so, the final one
// too (which opens no branch: one read too many, once per step), because a profile key
// {tokens, hidden} must have one price whichever operator asks for it first.
Op with_residual_gradient(Op norm) {
  norm.bwd_read += norm.fwd_written;
  return norm;
}

// LayerNorm (no affine: adaLN supplies shift and scale) fused with the modulation.
Op adaln_layernorm(const std::string& label, std::int64_t tokens, std::int64_t hidden) {
  // mean, variance, normalize, scale, shift: about 8 FLOPs per element; saves x and the row stats.
  Op op = with_residual_gradient(
      make_elementwise("adaln_layernorm", label, Component::kNorm, tokens * hidden, 1, 1, 8, 1));
  op.shape = {{"tokens", tokens}, {"hidden", hidden}};
  return op;
}

// LayerNorm without modulation (cross_attn.norm where the cross-attention is not modulated): the
// same kernel with zero shift and scale, keyed like it by {tokens, hidden}, since a row kernel's
// time depends on the row width, not on the elements alone (cost/interpolation.cpp,
// is_width_sensitive).
Op layernorm(const std::string& label, std::int64_t tokens, std::int64_t hidden) {
  Op op = with_residual_gradient(make_elementwise("layernorm", label, Component::kNorm, tokens * hidden, 1, 1, 7, 1));
  op.shape = {{"tokens", tokens}, {"hidden", hidden}};
  return op;
}

// x + gate * y (gate is per sample and channel); saves y and the gate for backward. The backward
// writes dy (and the gate's gradient, per sample): x's gradient is the output's, passed on, and the
// norm that opened the branch adds it to its own (with_residual_gradient). Keyed {tokens, hidden}
// like the norms: the gate's gradient sums each sample's column, whose time at equal elements
// depends on the width (cost/interpolation.cpp, is_width_sensitive).
Op gate_residual(const std::string& label, std::int64_t tokens, std::int64_t hidden) {
  Op op = make_elementwise("gate_residual", label, Component::kNorm, tokens * hidden, 2, 1, 2, 1);
  op.bwd_written = op.fwd_written;
  op.shape = {{"tokens", tokens}, {"hidden", hidden}};
  return op;
}

// x + y: both gradients are the output's, so the backward runs no kernel (a zero-time task).
Op residual_add(const std::string& label, std::int64_t tokens, std::int64_t hidden) {
  Op op = make_elementwise("residual_add", label, Component::kNorm, tokens * hidden, 2, 1, 1, 0);
  op.bwd_input = Flops{};
  op.bwd_read = Bytes{};
  op.bwd_written = Bytes{};
  return op;
}

Op rmsnorm(const std::string& label, std::int64_t tokens, std::int64_t hidden) {
  Op op = with_residual_gradient(make_elementwise("rmsnorm", label, Component::kNorm, tokens * hidden, 1, 1, 4, 1));
  op.shape = {{"tokens", tokens}, {"hidden", hidden}};
  op.params = static_cast<double>(hidden);
  op.activated_params = op.params;
  return op;
}

std::vector<Op> dit_block(const ModelSpec& m, std::int64_t layer, const OpContext& ctx) {
  const auto& dit = m.dit;
  const std::int64_t s = m.tokens_per_sample(ctx.training);
  const std::int64_t t = ctx.samples * s;
  const std::int64_t d = m.hidden;
  const std::int64_t t_sp = t / ctx.tp;  // sequence parallel: norms and residuals see 1/tp of the tokens
  const bool cross = dit.text_tokens > 0;
  const bool modulate_cross = dit.adaln_vectors == 9;
  std::vector<Op> ops;
  if (dit.adaln == AdaLnKind::kPerBlock) {
    // The block's modulation vectors from the conditioning vector, once per sample.
    ops.push_back(make_gemm("adaln.modulation", Component::kAdaLn, ctx.samples, dit.adaln_vectors * d,
                            dit.cond_width, true));
  } else {
    // adaLN-single: the shared global modulation plus this block's learned table.
    Op table = make_elementwise("adaln_table", "adaln.table", Component::kAdaLn, ctx.samples * dit.adaln_vectors * d,
                                1, 1, 1, 0);
    table.params = static_cast<double>(dit.adaln_vectors * d);
    table.activated_params = table.params;
    ops.push_back(std::move(table));
  }
  ops.push_back(adaln_layernorm("self_attn.norm", t_sp, d));
  append_attention(ops, m, Component::kSelfAttention, "self_attn.", t, t, s, d, m.attention.kv_heads, ctx);
  ops.push_back(gate_residual("self_attn.residual", t_sp, d));
  if (cross) {
    ops.push_back(modulate_cross ? adaln_layernorm("cross_attn.norm", t_sp, d) : layernorm("cross_attn.norm", t_sp, d));
    append_attention(ops, m, Component::kCrossAttention, "cross_attn.", t, ctx.samples * dit.text_tokens,
                     dit.text_tokens, dit.text_width, dit.cross_kv_heads, ctx);
    ops.push_back(modulate_cross ? gate_residual("cross_attn.residual", t_sp, d)
                                 : residual_add("cross_attn.residual", t_sp, d));
  }
  ops.push_back(adaln_layernorm("ffn.norm", t_sp, d));
  append_ffn(ops, m, layer, t, ctx);
  ops.push_back(gate_residual("ffn.residual", t_sp, d));
  return ops;
}

std::vector<Op> llm_block(const ModelSpec& m, std::int64_t layer, const OpContext& ctx) {
  const std::int64_t s = m.llm.seq_len;
  const std::int64_t t = ctx.samples * s;
  const std::int64_t t_sp = t / ctx.tp;  // sequence parallel
  const std::int64_t d = m.hidden;
  std::vector<Op> ops;
  ops.push_back(rmsnorm("self_attn.norm", t_sp, d));
  append_attention(ops, m, Component::kSelfAttention, "self_attn.", t, t, s, d, m.attention.kv_heads, ctx);
  ops.push_back(residual_add("self_attn.residual", t_sp, d));
  ops.push_back(rmsnorm("ffn.norm", t_sp, d));
  append_ffn(ops, m, layer, t, ctx);
  ops.push_back(residual_add("ffn.residual", t_sp, d));
  return ops;
}

void set_layer(std::vector<Op>& ops, std::int64_t layer) {
  for (Op& op : ops) op.layer = layer;
}

}  // namespace

std::vector<Op> block_ops(const ModelSpec& m, std::int64_t layer, const OpContext& ctx) {
  if (layer < 0 || layer >= m.layers) throw RuntimeFailure("block_ops: layer " + std::to_string(layer) + " out of range");
  auto ops = m.kind == ModelKind::kDit ? dit_block(m, layer, ctx) : llm_block(m, layer, ctx);
  set_layer(ops, layer);
  return ops;
}

std::vector<Op> pre_ops(const ModelSpec& m, const OpContext& ctx) {
  std::vector<Op> ops;
  const std::int64_t t = ctx.samples * m.tokens_per_sample(ctx.training);
  if (m.kind == ModelKind::kDit) {
    const auto& dit = m.dit;
    const std::int64_t patch_in = dit.patch * dit.patch * dit.latent_channels;
    // Patchify as a GEMM over the kept tokens (masked tokens are dropped before the blocks).
    ops.push_back(make_gemm("embed.patch", Component::kEmbedding, t, m.hidden, patch_in, true));
    // Timestep: sinusoidal features -> Linear -> SiLU -> Linear, once per sample.
    ops.push_back(make_gemm("embed.timestep_fc1", Component::kEmbedding, ctx.samples, dit.cond_width,
                            dit.timestep_freq_dim, true));
    ops.push_back(make_elementwise("silu", "embed.timestep_silu", Component::kEmbedding, ctx.samples * dit.cond_width,
                                   1, 1, 4, 1));
    ops.push_back(make_gemm("embed.timestep_fc2", Component::kEmbedding, ctx.samples, dit.cond_width, dit.cond_width,
                            true));
    if (dit.adaln == AdaLnKind::kSingle) {
      ops.push_back(make_gemm("adaln.global", Component::kAdaLn, ctx.samples, dit.adaln_vectors * m.hidden,
                              dit.cond_width, true));
    }
  } else {
    Op emb = make_elementwise("embedding", "embed.tokens", Component::kEmbedding, t * m.hidden, 0, 1, 0, 0);
    emb.params = static_cast<double>(m.llm.vocab * m.hidden);
    emb.activated_params = emb.params;  // counted whole, as LLM "active parameter" figures do
    if (ctx.tp > 1) emb.sharding = ParamSharding::kTensorParallel;
    ops.push_back(std::move(emb));
  }
  set_layer(ops, -1);
  return ops;
}

std::vector<Op> post_ops(const ModelSpec& m, const OpContext& ctx) {
  std::vector<Op> ops;
  const std::int64_t t = ctx.samples * m.tokens_per_sample(ctx.training);
  if (m.kind == ModelKind::kDit) {
    const auto& dit = m.dit;
    const std::int64_t patch_out = dit.patch * dit.patch * dit.out_channels;
    if (dit.adaln == AdaLnKind::kPerBlock) {
      ops.push_back(make_gemm("final.modulation", Component::kAdaLn, ctx.samples, 2 * m.hidden, dit.cond_width, true));
    }
    ops.push_back(adaln_layernorm("final.norm", t, m.hidden));
    ops.push_back(make_gemm("final.linear", Component::kHead, t, patch_out, m.hidden, true));
    if (ctx.training) {
      // Rectified flow: mean squared error between predicted and target velocity.
      ops.push_back(make_elementwise("flow_loss", "final.loss", Component::kHead, t * patch_out, 2, 0, 3, 1));
    }
  } else {
    ops.push_back(rmsnorm("final.norm", t, m.hidden));
    Op head = tp_gemm("lm_head", Component::kHead, t, m.llm.vocab / ctx.tp, m.hidden, false, ctx.tp);
    if (m.llm.tied_embeddings) {
      head.params = 0;  // the embedding table, already counted
      head.activated_params = 0;
    }
    ops.push_back(std::move(head));
    if (ctx.training) {
      ops.push_back(make_elementwise("cross_entropy", "loss", Component::kHead, t * m.llm.vocab / ctx.tp, 1, 0, 4, 0));
    }
  }
  set_layer(ops, m.layers);
  return ops;
}

std::vector<Op> model_ops(const ModelSpec& m, const OpContext& ctx) {
  std::vector<Op> all = pre_ops(m, ctx);
  for (std::int64_t l = 0; l < m.layers; ++l) {
    for (Op& op : block_ops(m, l, ctx)) all.push_back(std::move(op));
  }
  for (Op& op : post_ops(m, ctx)) all.push_back(std::move(op));
  return all;
}

}  // namespace ecsim
