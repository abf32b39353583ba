#include "model_ref/attention_layer.hpp"

#include "model_ref/linear.hpp"

namespace ecsim::model_ref {
namespace {

// Columns [first, first + width) of every row of a [rows, stride] matrix, as [rows, width].
std::vector<double> columns(std::span<const double> m, std::int64_t rows, std::int64_t stride, std::int64_t first,
                            std::int64_t width) {
  std::vector<double> out(static_cast<std::size_t>(rows * width));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < width; ++i) out[r * width + i] = m[r * stride + first + i];
  }
  return out;
}

// The inverse: writes part [rows, width] into columns [first, first + width) of m [rows, stride].
void set_columns(std::span<double> m, std::int64_t rows, std::int64_t stride, std::int64_t first, std::int64_t width,
                 std::span<const double> part) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < width; ++i) m[r * stride + first + i] = part[r * width + i];
  }
}

}  // namespace

AttentionLayerForward self_attention_fwd(const ModelConfig& c, const SelfAttentionRefs& p,
                                         std::span<const double> params, std::span<const double> x,
                                         std::int64_t images, std::int64_t seq, const Tracer& trace) {
  AttentionLayerForward f;
  f.shape = {images, c.heads, c.kv_heads, seq, seq, c.head_dim, false};
  const std::int64_t rows = images * seq;
  const std::int64_t qw = c.heads * c.head_dim, kvw = c.kv_heads * c.head_dim;
  f.x.assign(x.begin(), x.end());
  trace("gemm", "self_attn.qkv");
  const std::vector<double> qkv = linear_fwd(p.qkv, params, x, rows);  // [B S, (H + 2 KVH) D]
  f.q = columns(qkv, rows, qw + 2 * kvw, 0, qw);
  f.k = columns(qkv, rows, qw + 2 * kvw, qw, kvw);
  f.v = columns(qkv, rows, qw + 2 * kvw, qw + kvw, kvw);
  trace("attention_fwd", "self_attn.attention");
  f.att = ref::attention_fwd(f.shape, f.q, f.k, f.v);
  trace("gemm", "self_attn.out");
  f.y = linear_fwd(p.out, params, f.att.out, rows);
  return f;
}

std::vector<double> self_attention_bwd(const SelfAttentionRefs& p, std::span<const double> params,
                                       const AttentionLayerForward& f, std::span<const double> dy,
                                       std::span<double> grads) {
  const ref::AttentionShape& s = f.shape;
  const std::int64_t rows = s.batch * s.q_len;
  const std::int64_t qw = s.heads * s.head_dim, kvw = s.kv_heads * s.head_dim;
  const std::vector<double> dout = linear_bwd(p.out, params, f.att.out, dy, rows, grads);  // [B S, H D]
  const ref::AttentionGrads g = ref::attention_bwd(s, f.q, f.k, f.v, f.att.out, f.att.lse, dout);
  std::vector<double> dqkv(static_cast<std::size_t>(rows * (qw + 2 * kvw)));  // [B S, (H + 2 KVH) D]
  set_columns(dqkv, rows, qw + 2 * kvw, 0, qw, g.dq);
  set_columns(dqkv, rows, qw + 2 * kvw, qw, kvw, g.dk);
  set_columns(dqkv, rows, qw + 2 * kvw, qw + kvw, kvw, g.dv);
  return linear_bwd(p.qkv, params, f.x, dqkv, rows, grads);
}

AttentionLayerForward cross_attention_fwd(const ModelConfig& c, const CrossAttentionRefs& p,
                                          std::span<const double> params, std::span<const double> x,
                                          std::span<const double> text, std::int64_t images, std::int64_t seq,
                                          const Tracer& trace) {
  AttentionLayerForward f;
  f.shape = {images, c.heads, c.cross_kv_heads, seq, c.text_tokens, c.head_dim, false};
  const std::int64_t kvw = c.cross_kv_heads * c.head_dim;
  const std::int64_t text_rows = images * c.text_tokens;
  f.x.assign(x.begin(), x.end());
  f.context.assign(text.begin(), text.end());
  trace("gemm", "cross_attn.q");
  f.q = linear_fwd(p.q, params, x, images * seq);  // [B S, H D]
  trace("gemm", "cross_attn.kv");
  const std::vector<double> kv = linear_fwd(p.kv, params, text, text_rows);  // [B L, 2 KVH D]
  f.k = columns(kv, text_rows, 2 * kvw, 0, kvw);
  f.v = columns(kv, text_rows, 2 * kvw, kvw, kvw);
  trace("attention_fwd", "cross_attn.attention");
  f.att = ref::attention_fwd(f.shape, f.q, f.k, f.v);
  trace("gemm", "cross_attn.out");
  f.y = linear_fwd(p.out, params, f.att.out, images * seq);
  return f;
}

std::vector<double> cross_attention_bwd(const CrossAttentionRefs& p, std::span<const double> params,
                                        const AttentionLayerForward& f, std::span<const double> dy,
                                        std::span<double> grads) {
  const ref::AttentionShape& s = f.shape;
  const std::int64_t rows = s.batch * s.q_len;
  const std::int64_t text_rows = s.batch * s.kv_len;
  const std::int64_t kvw = s.kv_heads * s.head_dim;
  const std::vector<double> dout = linear_bwd(p.out, params, f.att.out, dy, rows, grads);  // [B S, H D]
  const ref::AttentionGrads g = ref::attention_bwd(s, f.q, f.k, f.v, f.att.out, f.att.lse, dout);
  std::vector<double> dkv(static_cast<std::size_t>(text_rows * 2 * kvw));  // [B L, 2 KVH D]
  set_columns(dkv, text_rows, 2 * kvw, 0, kvw, g.dk);
  set_columns(dkv, text_rows, 2 * kvw, kvw, kvw, g.dv);
  linear_bwd(p.kv, params, f.context, dkv, text_rows, grads);
  return linear_bwd(p.q, params, f.x, g.dq, rows, grads);
}

}  // namespace ecsim::model_ref
