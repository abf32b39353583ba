// CPU reference for scaled dot-product attention (op names `attention_fwd`, `attention_bwd`):
// grouped-query (query head h reads KV head h / (heads / kv_heads)), self or cross (q_len may differ
// from kv_len), optionally causal, any head dimension. Layouts follow the projection GEMMs' output,
// so no transpose is needed between them:
//   q, out, dq   [B, Sq, H, D]
//   k, v, dk, dv [B, Skv, KVH, D]
//   lse          [B, H, Sq]   natural log of each query row's softmax denominator (scaled scores)
// Causal masking is aligned to the bottom-right corner as in FlashAttention: query i sees keys
// j <= i + (Skv - Sq), so it needs Skv >= Sq (every query sees at least one key).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::ref {

struct AttentionShape {
  std::int64_t batch = 0;
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t q_len = 0;
  std::int64_t kv_len = 0;
  std::int64_t head_dim = 0;
  bool causal = false;

  double scale() const;  // 1/sqrt(head_dim)
  std::int64_t q_elements() const { return batch * q_len * heads * head_dim; }
  std::int64_t kv_elements() const { return batch * kv_len * kv_heads * head_dim; }
  std::int64_t lse_elements() const { return batch * heads * q_len; }
  void validate(const char* op) const;  // throws PreconditionError
};

struct AttentionForward {
  std::vector<double> out;  // [B, Sq, H, D]
  std::vector<double> lse;  // [B, H, Sq]
};

struct AttentionGrads {
  std::vector<double> dq;  // [B, Sq, H, D]
  std::vector<double> dk;  // [B, Skv, KVH, D], summed over the query heads of each group
  std::vector<double> dv;  // [B, Skv, KVH, D]
};

AttentionForward attention_fwd(const AttentionShape& s, std::span<const double> q, std::span<const double> k,
                               std::span<const double> v);

// Recomputes the probabilities from q, k and lse (as the fused kernels do) instead of keeping them.
AttentionGrads attention_bwd(const AttentionShape& s, std::span<const double> q, std::span<const double> k,
                             std::span<const double> v, std::span<const double> out, std::span<const double> lse,
                             std::span<const double> dout);

}  // namespace ecsim::ref
