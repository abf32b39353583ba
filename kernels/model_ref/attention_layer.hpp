// The attention sublayers of a DiT block, between its norm and its residual:
//   self-attention:  self_attn.qkv (gemm) -> self_attn.attention (attention_fwd) -> self_attn.out (gemm)
//   cross-attention: cross_attn.q (gemm), cross_attn.kv (gemm, over the text) ->
//                    cross_attn.attention (attention_fwd) -> cross_attn.out (gemm)
// The fused projections' outputs ([T, (H + 2 KVH) D] and [B L, 2 KVH D], q/k/v side by side) are split
// into the [B, S, heads, D] layouts ref::attention_fwd reads; a GPU kernel reads them in place
// with a row stride instead.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/config.hpp"
#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"
#include "ref/attention.hpp"

namespace ecsim::model_ref {

struct AttentionLayerForward {
  ref::AttentionShape shape;
  std::vector<double> x;        // [B Sq, d] the normalized input the queries come from
  std::vector<double> context;  // [B Skv, text_width] the text (cross-attention only)
  std::vector<double> q;        // [B, Sq, H, D]
  std::vector<double> k, v;     // [B, Skv, KVH, D]
  ref::AttentionForward att;    // out [B, Sq, H, D], lse [B, H, Sq]
  std::vector<double> y;        // [B Sq, d]
};

AttentionLayerForward self_attention_fwd(const ModelConfig& c, const SelfAttentionRefs& p,
                                         std::span<const double> params, std::span<const double> x,
                                         std::int64_t images, std::int64_t seq, const Tracer& trace);
// Returns dx [B Sq, d]; adds the projections' gradients into grads.
std::vector<double> self_attention_bwd(const SelfAttentionRefs& p, std::span<const double> params,
                                       const AttentionLayerForward& f, std::span<const double> dy,
                                       std::span<double> grads);

// text [B, L, text_width]
AttentionLayerForward cross_attention_fwd(const ModelConfig& c, const CrossAttentionRefs& p,
                                          std::span<const double> params, std::span<const double> x,
                                          std::span<const double> text, std::int64_t images, std::int64_t seq,
                                          const Tracer& trace);
// Returns dx [B Sq, d]; the text is an input of the model and gets no gradient.
std::vector<double> cross_attention_bwd(const CrossAttentionRefs& p, std::span<const double> params,
                                        const AttentionLayerForward& f, std::span<const double> dy,
                                        std::span<double> grads);

}  // namespace ecsim::model_ref
