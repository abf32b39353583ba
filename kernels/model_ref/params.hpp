// The model's parameters: one flat fp64 buffer, and named views into it. A view is an offset and a
// size (TensorRef), so the same view reads the parameters and accumulates into the gradient buffer,
// which has the same layout; the optimizer and the gradient check walk the flat buffers.
// Tensor names follow the simulator's op labels (simulator/model/model_ops.cpp) with the block index
// and the parameter: "blocks.1.moe.expert_fc1.weight".
// Layout: GEMM weights [in, out] row-major (y = x W + b), biases [out]; expert weights [E, in, out].
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model_ref/config.hpp"

namespace ecsim::model_ref {

struct TensorRef {
  std::int64_t offset = 0;
  std::int64_t size = 0;
};

inline std::span<const double> at(std::span<const double> flat, TensorRef r) {
  return flat.subspan(static_cast<std::size_t>(r.offset), static_cast<std::size_t>(r.size));
}
inline std::span<double> at(std::span<double> flat, TensorRef r) {
  return flat.subspan(static_cast<std::size_t>(r.offset), static_cast<std::size_t>(r.size));
}

// y [rows, out] = x [rows, in] weight [in, out] + bias [out]; bias.size == 0 where there is none.
struct LinearRef {
  TensorRef weight;
  TensorRef bias;
  std::int64_t in = 0;
  std::int64_t out = 0;
};

// E expert FFNs of the same shape, batched: fc1 [E, d, f] + [E, f], GeLU, fc2 [E, f, d] + [E, d].
struct ExpertsRef {
  TensorRef fc1_weight, fc1_bias, fc2_weight, fc2_bias;
  std::int64_t experts = 0;
  std::int64_t hidden = 0;
  std::int64_t width = 0;
};

struct SelfAttentionRefs {
  LinearRef qkv;  // [d, (H + 2 KVH) D]: q, k, v side by side
  LinearRef out;  // [H D, d]
};

struct CrossAttentionRefs {
  LinearRef q;    // [d, H D]
  LinearRef kv;   // [text_width, 2 KVH D]: k, v side by side
  LinearRef out;  // [H D, d]
};

struct DenseFfnRefs {
  LinearRef fc1;  // [d, f]
  LinearRef fc2;  // [f, d]
};

struct MoeFfnRefs {
  LinearRef router;  // [d, E], no bias
  ExpertsRef experts;
};

struct BlockRefs {
  bool moe = false;
  bool cross = false;
  LinearRef modulation;  // [cond, 6d]
  SelfAttentionRefs self_attn;
  CrossAttentionRefs cross_attn;  // sizes 0 without text
  DenseFfnRefs ffn;               // sizes 0 in MoE blocks
  MoeFfnRefs moe_ffn;             // sizes 0 in dense blocks
};

struct EmbedRefs {
  LinearRef patch;         // [patch_dim, d]
  LinearRef timestep_fc1;  // [freq_dim, cond]
  LinearRef timestep_fc2;  // [cond, cond]
};

struct FinalRefs {
  LinearRef modulation;  // [cond, 2d]: shift, scale
  LinearRef linear;      // [d, patch_dim]
};

// How a tensor is drawn at initialization (DiT's initialize_weights).
enum class InitRule {
  kXavier,      // uniform in +-sqrt(6 / (fan_in + fan_out)): every linear layer
  kNormal002,   // N(0, 0.02^2): the timestep MLP's weights
  kAdaLnZero,   // zero under InitScheme::kAdaLnZero: adaLN modulations and the final linear layer
};

struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  TensorRef ref;
  InitRule rule = InitRule::kXavier;
  bool bias = false;
  std::int64_t fan_in = 0, fan_out = 0;  // of one output (one expert for expert weights)
};

struct ParamLayout {
  EmbedRefs embed;
  std::vector<BlockRefs> blocks;
  FinalRefs final;
  std::vector<NamedTensor> tensors;  // in buffer order, tiling [0, total) without gaps
  std::int64_t total = 0;
};

ParamLayout make_param_layout(const ModelConfig& c);

enum class InitScheme {
  // DiT's: biases zero, adaLN modulations and the final linear layer zero, so every block starts
  // as the identity and the first prediction is 0.
  kAdaLnZero,
  // Every weight Xavier-uniform (adaLN ones included) and every bias uniform in [-0.1, 0.1], so every
  // parameter has a nonzero gradient: what a gradient check needs.
  kAllRandom,
};

// [total], drawn tensor by tensor in buffer order from one mt19937_64 seeded with `seed`.
std::vector<double> init_params(const ParamLayout& layout, std::uint64_t seed, InitScheme scheme);

}  // namespace ecsim::model_ref
