// One EC-DiT block, forward and backward, in the simulator's op order (simulator/model/model_ops.cpp,
// dit_block; X = the block input [B, S, d], c = the conditioning vector [B, cond]):
//   adaln.modulation    gemm             mod = c W + b: 6 vectors [B, d] (modulation.hpp)
//   self_attn.norm      adaln_layernorm  LN(X) (1 + scale_msa) + shift_msa
//   self_attn.*         qkv, attention, out (attention_layer.hpp)
//   self_attn.residual  gate_residual    X1 = X + gate_msa * attn
//   cross_attn.norm     layernorm        LN(X1), no affine (adaln_layernorm with shift = scale = 0)
//   cross_attn.*        q, kv, attention, out
//   cross_attn.residual residual_add     X2 = X1 + cross
//   ffn.norm            adaln_layernorm  LN(X2) (1 + scale_ffn) + shift_ffn
//   ffn.* | moe.*       dense FFN (dense_ffn.hpp) or MoE FFN, expert or token choice (moe_ffn.hpp)
//   ffn.residual        gate_residual    out = X2 + gate_ffn * ffn
// Without text the cross-attention ops are absent. The backward returns dX and dc; c feeds every
// block's modulation, so the model adds the blocks' dc.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/attention_layer.hpp"
#include "model_ref/config.hpp"
#include "model_ref/dense_ffn.hpp"
#include "model_ref/moe_ffn.hpp"
#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"
#include "ref/adaln_layernorm.hpp"

namespace ecsim::model_ref {

// What the block reads besides its parameters.
struct BlockInput {
  std::int64_t images = 0;       // B
  std::int64_t seq = 0;          // S, tokens per image after masking
  std::span<const double> x;     // [B, S, d]
  std::span<const double> cond;  // [B, cond]
  std::span<const double> text;  // [B, L, text_width]; empty without cross-attention
};

// Everything the backward reads: the inputs of each op it differentiates.
struct BlockForward {
  std::int64_t images = 0, seq = 0;
  std::vector<double> x;     // [B, S, d]
  std::vector<double> cond;  // [B, cond]
  std::vector<double> mod;   // [B, 6d]
  ref::AdaLnForward self_norm;
  AttentionLayerForward self_attn;
  std::vector<double> x1;  // [B, S, d] after the self-attention residual
  ref::AdaLnForward cross_norm;
  AttentionLayerForward cross_attn;
  std::vector<double> x2;  // [B, S, d] after the cross-attention residual (= x1 without text)
  ref::AdaLnForward ffn_norm;
  DenseFfnForward ffn;  // dense blocks
  MoeFfnForward moe;    // MoE blocks
  std::vector<double> out;  // [B, S, d]
};

BlockForward block_fwd(const ModelConfig& c, const BlockRefs& p, std::span<const double> params, const BlockInput& in,
                       const Tracer& trace);

struct BlockGrads {
  std::vector<double> dx;     // [B, S, d]
  std::vector<double> dcond;  // [B, cond]
};

// Adds the block's parameter gradients into grads (the layout of params).
BlockGrads block_bwd(const ModelConfig& c, const BlockRefs& p, std::span<const double> params, const BlockForward& f,
                     std::span<const double> dout, std::span<double> grads);

}  // namespace ecsim::model_ref
