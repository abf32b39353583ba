// One operator of a transformer: the unit the simulator prices, the profiler measures and the
// runner executes. Its `name` is the kernel family shared by all three (DESIGN.md: gemm,
// batched_gemm, grouped_gemm, attention_fwd, ec_route, ...); `label` says where in the block it is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/units.hpp"

namespace ecsim {

// What part of the model an operator (and its parameters) belongs to.
enum class Component {
  kEmbedding,       // patch/timestep/token embeddings
  kAdaLn,           // adaLN modulation projections and tables
  kNorm,            // LayerNorm / RMSNorm
  kSelfAttention,
  kCrossAttention,
  kFfn,             // dense FFN
  kRouter,
  kExperts,
  kSharedExperts,
  kHead,            // final layer / LM head and loss
  kOther,           // parameters outside the operators (stated assumption of the model file)
};
const char* component_name(Component c);
constexpr int kComponentCount = 11;

// How an operator's parameters are split over GPUs.
enum class ParamSharding { kReplicated, kTensorParallel, kExpertParallel };

using OpShape = std::map<std::string, std::int64_t>;  // named dimensions, e.g. {m, n, k}

struct Op {
  std::string name;   // kernel family
  std::string label;  // position in the block, e.g. "self_attn.qkv"
  Component component = Component::kOther;
  std::int64_t layer = -1;  // block index; -1 before the first block, `layers` after the last
  OpShape shape;

  Flops fwd;
  Flops bwd_input;   // gradient with respect to the inputs
  Flops bwd_weight;  // gradient with respect to the weights
  Bytes fwd_read, fwd_written;  // memory traffic of the forward kernel
  Bytes bwd_read, bwd_written;  // memory traffic of its backward kernels
  Bytes saved;                  // activation bytes kept from forward for backward

  double params = 0;            // parameters this operator owns (on this rank)
  double activated_params = 0;  // parameters one token goes through (for MoE: average over tokens)
  ParamSharding sharding = ParamSharding::kReplicated;
  bool is_comm_boundary = false;  // MoE dispatch/combine point (the layout inserts all-to-alls)
  bool bias = false;  // a matrix product's bias (one per output column and group): the runner adds it,
                      // and sums its gradient, in kernels of their own (kernels/bias.cuh)

  Flops train_flops() const { return fwd + bwd_input + bwd_weight; }
};

// bf16 storage, fp32 where accumulators or statistics reach memory.
constexpr double kBf16Bytes = 2;
constexpr double kFp32Bytes = 4;

// Factories with the formulas; each states its FLOPs and bytes. Dimensions are per rank.
// y[m,n] = x[m,k] * W[k,n] (+ bias): fwd 2mnk, dX 2mnk, dW 2mnk.
Op make_gemm(std::string label, Component c, std::int64_t m, std::int64_t n, std::int64_t k, bool bias);
// The same product over an input that takes no gradient (a frozen encoder's output, such as the
// text embedding the cross-attention's K and V are projected from): dW only, no dX.
Op without_input_gradient(Op gemm);
// `batch` independent GEMMs of one shape (expert choice: every expert has C tokens).
Op make_batched_gemm(std::string label, Component c, std::int64_t batch, std::int64_t m, std::int64_t n,
                     std::int64_t k, bool bias);
// Ragged GEMMs: group g has rows[g] rows, all share n and k (token choice).
Op make_grouped_gemm(std::string label, Component c, const std::vector<std::int64_t>& rows, std::int64_t n,
                     std::int64_t k, bool bias);
// Fused attention over `batch` sequences: fwd 4*b*h*sq*skv*d (halved when causal), bwd 2x fwd.
Op make_attention(std::string label, Component c, std::int64_t batch, std::int64_t heads, std::int64_t kv_heads,
                  std::int64_t q_len, std::int64_t kv_len, std::int64_t head_dim, bool causal);
// Expert-choice routing of `tokens` over `experts`: the softmax per token, then the top `capacity`
// tokens per (group of `group` tokens, expert). Priced on tokens x experts scores.
Op make_ec_route(std::string label, std::int64_t tokens, std::int64_t experts, std::int64_t group,
                 std::int64_t capacity);
// Token-choice routing: the softmax per token and its top `top_k` experts.
Op make_tc_route(std::string label, std::int64_t tokens, std::int64_t experts, std::int64_t top_k);
// An elementwise or row-wise kernel over `elements` values: reads `reads` tensors of that size,
// writes `writes`, doing `flops_per_element` each; saves `saved_tensors` of that size.
Op make_elementwise(std::string name, std::string label, Component c, std::int64_t elements, double reads,
                    double writes, double flops_per_element, double saved_tensors);

}  // namespace ecsim
