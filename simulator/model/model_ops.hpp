// Model description -> operators. One list of operators per block (and the embedding before and
// the head after), with the shapes one rank executes for one micro-batch.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_spec.hpp"
#include "model/op.hpp"

namespace ecsim {

struct OpContext {
  std::int64_t samples = 1;  // images (or sequences) in the micro-batch on this rank
  bool training = true;      // training: masked tokens (MaskDiT); inference: all tokens
  std::int64_t tp = 1;       // tensor parallel: heads and FFN width split tp ways, tokens of MoE layers too
  std::int64_t ep = 1;       // expert parallel: experts split ep ways
  // Tokens per local expert from this rank's routing (token choice); empty: uniform loads.
  std::vector<std::int64_t> expert_rows;
};

// Operators of block `layer` (0-based), in execution order.
std::vector<Op> block_ops(const ModelSpec& m, std::int64_t layer, const OpContext& ctx);
// Operators before the first block (embeddings, conditioning) and after the last (final layer, loss).
std::vector<Op> pre_ops(const ModelSpec& m, const OpContext& ctx);
std::vector<Op> post_ops(const ModelSpec& m, const OpContext& ctx);
// All of them: pre, blocks 0..L-1, post.
std::vector<Op> model_ops(const ModelSpec& m, const OpContext& ctx);

// MoE FFN of one layer (router, routing, dispatch, experts, combine), used by block_ops.
std::vector<Op> moe_ffn_ops(const ModelSpec& m, std::int64_t tokens, const OpContext& ctx);
// Expert-choice capacity C = floor(G * f_c / E).
std::int64_t expert_choice_capacity(const ModelSpec& m);
// Token-choice capacity per expert for `tokens` routed tokens: ceil(cf * tokens * k / E).
std::int64_t token_choice_capacity(const ModelSpec& m, std::int64_t tokens);

}  // namespace ecsim
