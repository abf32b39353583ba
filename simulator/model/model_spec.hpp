// What a model is: the transformer's shape, read from a scenario's "model" object
// (format in scenarios/README.md). Two kinds share one engine: diffusion transformers ("dit",
// EC-DiT and DiT) and decoder-only language models ("llm").
#pragma once

#include <cstdint>
#include <string>

#include "core/json_input.hpp"

namespace ecsim {

enum class ModelKind { kDit, kLlm };
enum class Activation { kGelu, kSwiglu };
enum class RoutingKind { kExpertChoice, kTokenChoice };
enum class AdaLnKind { kPerBlock, kSingle };

struct AttentionSpec {
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;  // grouped-query attention: kv_heads divides heads
  std::int64_t head_dim = 0;  // defaults to hidden / heads
  bool causal = false;
  bool qkv_bias = true;
};

struct FfnSpec {
  std::int64_t width = 0;  // hidden width of the FFN (multiplier * hidden by default)
  Activation activation = Activation::kGelu;
  bool bias = true;
};

struct RoutingSpec {
  RoutingKind kind = RoutingKind::kExpertChoice;
  double capacity_factor = 2.0;     // expert choice: f_c (C = G * f_c / E); token choice: 0 = dropless
  std::int64_t group_tokens = 1024; // expert choice: tokens per routing group G
  std::int64_t top_k = 2;           // token choice
  bool dropless() const { return kind == RoutingKind::kTokenChoice && capacity_factor == 0; }
};

struct MoeSpec {
  std::int64_t experts = 0;  // 0: no MoE layers
  std::int64_t every = 2;    // MoE FFN in every `every`-th layer ...
  std::int64_t first = 1;    // ... starting at this layer index (0-based)
  std::int64_t shared_experts = 0;
  RoutingSpec routing;
  bool enabled() const { return experts > 0; }
  bool is_moe_layer(std::int64_t layer) const {
    return enabled() && layer >= first && (layer - first) % every == 0;
  }
};

struct DitSpec {
  std::int64_t latent_size = 32;      // latent is latent_size x latent_size
  std::int64_t latent_channels = 4;
  std::int64_t patch = 2;
  std::int64_t out_channels = 4;      // velocity prediction (rectified flow)
  double mask_ratio = 0.0;            // fraction of patch tokens dropped in training (MaskDiT)
  std::int64_t text_tokens = 0;       // 0: no cross-attention
  std::int64_t text_width = 0;        // width of the text features the cross-attention reads
  std::int64_t cross_kv_heads = 0;
  AdaLnKind adaln = AdaLnKind::kPerBlock;
  std::int64_t adaln_vectors = 6;     // modulation vectors per block (6, or 9 with cross-attention)
  std::int64_t cond_width = 0;        // width of the conditioning vector (timestep embedding)
  std::int64_t timestep_freq_dim = 256;
  std::int64_t tokens_per_image() const { return (latent_size / patch) * (latent_size / patch); }
};

struct LlmSpec {
  std::int64_t vocab = 0;
  std::int64_t seq_len = 0;
  bool tied_embeddings = false;
};

struct ModelSpec {
  std::string name;
  ModelKind kind = ModelKind::kDit;
  std::int64_t hidden = 0;
  std::int64_t layers = 0;
  AttentionSpec attention;
  FfnSpec ffn;
  MoeSpec moe;
  DitSpec dit;
  LlmSpec llm;
  double other_params = 0;  // parameters outside what the operators describe (stated assumption)
  std::string other_params_note;

  std::int64_t kv_width() const { return attention.kv_heads * attention.head_dim; }
  std::int64_t q_width() const { return attention.heads * attention.head_dim; }
  std::int64_t moe_layers() const;
  // Tokens one sample puts through the blocks: image patches after masking, or the LLM sequence.
  std::int64_t tokens_per_sample(bool training) const;
};

// Reads and checks a model object; every error names the file and the JSON path.
ModelSpec parse_model(const Node& node);
// Echo of the resolved model, for the result JSON.
Json model_to_json(const ModelSpec& m);

}  // namespace ecsim
