// The shape of the CPU-reference EC-DiT (kernels/README.md, "CPU-reference model"): the fields of the
// simulator's ModelSpec that a DiT block reads (simulator/model/model_spec.hpp), with the same
// meaning, so a scenario's model can be shrunk into one. The block is the EC-DiT one the scenarios
// assume (scenarios/README.md): per-block adaLN with 6 vectors (shift, scale, gate for
// self-attention and for the FFN), GQA self-attention, cross-attention to the text behind a plain
// LayerNorm and a plain residual, a GeLU FFN or a MoE FFN, expert-choice (EC-DiT's) or token-choice
// (the GShard-style baseline the simulator prices). Biases everywhere but the router (qkv_bias and
// ffn bias are on in every EC-DiT scenario).
// The defaults are the tiny configuration that tests/kernels/model_ref_test.cpp trains.
#pragma once

#include <cstdint>

namespace ecsim::model_ref {

// How a MoE FFN routes (simulator/model/model_spec.hpp, RoutingKind).
enum class Routing { kExpertChoice, kTokenChoice };

struct ModelConfig {
  std::int64_t hidden = 32;  // d
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t kv_heads = 2;  // self-attention GQA: divides heads
  std::int64_t head_dim = 8;
  std::int64_t ffn_width = 128;  // f: the dense FFN's and every expert's hidden width (EC-DiT: 4d)
  std::int64_t experts = 4;      // E; 0: every FFN is dense
  Routing routing = Routing::kExpertChoice;
  // Expert choice: f_c, every expert takes C = floor(G f_c / E) tokens per group. Token choice: 0 =
  // dropless; else every expert holds C = ceil(f_c T k / E) rows per micro-batch of T tokens, picks
  // granted in token order and the rest dropped.
  double capacity_factor = 2.0;
  std::int64_t group_tokens = 16;  // G: consecutive tokens of the batch routed together (expert choice)
  std::int64_t top_k = 2;          // token choice: experts per token
  std::int64_t moe_every = 2;      // MoE FFN in every `moe_every`-th block ...
  std::int64_t moe_first = 1;      // ... from this block index (0-based) on
  std::int64_t text_tokens = 8;    // 0: no cross-attention
  std::int64_t text_width = 32;    // width of the text features the cross-attention's kv reads
  std::int64_t cross_kv_heads = 2;
  std::int64_t latent_size = 8;  // latent is latent_size x latent_size x latent_channels
  std::int64_t latent_channels = 4;
  std::int64_t patch = 2;
  std::int64_t cond_width = 16;  // the timestep conditioning vector every modulation GEMM reads
  std::int64_t timestep_freq_dim = 16;
  double mask_ratio = 0.0;  // fraction of patch tokens dropped in training (MaskDiT)

  std::int64_t grid() const { return latent_size / patch; }
  std::int64_t tokens_per_image() const { return grid() * grid(); }
  // Patch tokens one image puts through the blocks after masking (ModelSpec::tokens_per_sample).
  std::int64_t kept_tokens() const;
  // Values per patch, in and out: the model predicts the velocity in latent channels.
  std::int64_t patch_dim() const { return patch * patch * latent_channels; }
  std::int64_t capacity() const;  // expert choice's C, as simulator/model/moe_ops.cpp's expert_choice_capacity
  // Token choice's C for a micro-batch of `tokens`, as moe_ops.cpp's token_choice_capacity; -1 when dropless.
  std::int64_t token_choice_capacity(std::int64_t tokens) const;
  bool dropless() const { return routing == Routing::kTokenChoice && capacity_factor == 0; }
  bool is_moe_layer(std::int64_t layer) const {
    return experts > 0 && layer >= moe_first && (layer - moe_first) % moe_every == 0;
  }
  bool has_cross_attention() const { return text_tokens > 0; }
  // Throws PreconditionError naming the field and the broken condition.
  void validate() const;
};

}  // namespace ecsim::model_ref
