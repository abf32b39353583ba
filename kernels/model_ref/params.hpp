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
// A layout may store a range of the layer's experts (one expert-parallel rank's): then E is that
// range's count and `first` the model's index of its first expert.
struct ExpertsRef {
  TensorRef fc1_weight, fc1_bias, fc2_weight, fc2_bias;
  std::int64_t experts = 0;  // stored
  std::int64_t first = 0;
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
  // Expert tensors ([experts, ...]): how many experts they store and the model's index of the first.
  std::int64_t experts = 0, first_expert = 0;
};

struct ParamLayout {
  EmbedRefs embed;
  std::vector<BlockRefs> blocks;
  FinalRefs final;
  std::vector<NamedTensor> tensors;  // in buffer order, tiling [0, total) without gaps
  std::int64_t total = 0;
};

// Which of each MoE layer's experts a layout stores: all (count -1), or [first, first + count),
// one expert-parallel rank's share (the GPU runner with ep > 1). The router keeps all E outputs.
struct ExpertRange {
  std::int64_t first = 0;
  std::int64_t count = -1;
};

// Throws PreconditionError when `stored` is not inside [0, c.experts).
ParamLayout make_param_layout(const ModelConfig& c, ExpertRange stored = {});

enum class InitScheme {
  // DiT's: biases zero, adaLN modulations and the final linear layer zero, so every block starts
  // as the identity and the first prediction is 0.
  kAdaLnZero,
  // Every weight Xavier-uniform (adaLN ones included) and every bias uniform in [-0.1, 0.1], so every
  // parameter has a nonzero gradient: what a gradient check needs.
  kAllRandom,
};

// [total]. Each tensor is drawn from its own mt19937_64, seeded from (seed, its index in the
// layout) and, for an expert tensor, one stream per expert (seed, index, the model's expert index):
// so a layout that stores a range of the experts gets exactly those experts' slices of the full
// layout's values, without drawing the others.
std::vector<double> init_params(const ParamLayout& layout, std::uint64_t seed, InitScheme scheme);

}  // namespace ecsim::model_ref
