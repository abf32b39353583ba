#include "model/op.hpp"

#include <numeric>

#include "core/errors.hpp"

namespace ecsim {

const char* component_name(Component c) {
  switch (c) {
    case Component::kEmbedding: return "embedding";
    case Component::kAdaLn: return "adaln";
    case Component::kNorm: return "norm";
    case Component::kSelfAttention: return "self_attention";
    case Component::kCrossAttention: return "cross_attention";
    case Component::kFfn: return "ffn";
    case Component::kRouter: return "router";
    case Component::kExperts: return "experts";
    case Component::kSharedExperts: return "shared_experts";
    case Component::kHead: return "head";
    case Component::kOther: return "other";
  }
  return "other";
}

namespace {
double d(std::int64_t v) { return static_cast<double>(v); }
}  // namespace

Op make_gemm(std::string label, Component c, std::int64_t m, std::int64_t n, std::int64_t k, bool bias) {
  Op op;
  op.name = "gemm";
  op.label = std::move(label);
  op.component = c;
  op.shape = {{"m", m}, {"n", n}, {"k", k}};
  const double mnk = 2 * d(m) * d(n) * d(k);
  op.fwd = {mnk};
  op.bwd_input = {mnk};
  op.bwd_weight = {mnk};
  // Forward reads X and W, writes Y. Backward: dX reads dY, W and writes dX; dW reads dY, X and
  // writes the fp32 gradient (the step's first micro-batch; the later ones add to it, reading the
  // old gradient too: KernelCall::added_read, cost/compute_cost.hpp).
  op.fwd_read = {(d(m) * d(k) + d(k) * d(n)) * kBf16Bytes};
  op.fwd_written = {d(m) * d(n) * kBf16Bytes};
  op.bwd_read = {(2 * d(m) * d(n) + d(k) * d(n) + d(m) * d(k)) * kBf16Bytes};
  op.bwd_written = {d(m) * d(k) * kBf16Bytes + d(k) * d(n) * kFp32Bytes};
  op.saved = {d(m) * d(k) * kBf16Bytes};  // the input X, for dW
  op.params = d(k) * d(n) + (bias ? d(n) : 0);
  op.activated_params = op.params;
  op.bias = bias;
  return op;
}

Op without_input_gradient(Op op) {
  if (op.name != "gemm") throw RuntimeFailure("without_input_gradient: " + op.name + " is not a gemm");
  const double m = d(op.shape.at("m")), n = d(op.shape.at("n")), k = d(op.shape.at("k"));
  // dX's share of the backward: it reads dY and W and writes dX.
  op.bwd_input = Flops{};
  op.bwd_read = op.bwd_read - Bytes{(m * n + k * n) * kBf16Bytes};
  op.bwd_written = op.bwd_written - Bytes{m * k * kBf16Bytes};
  return op;
}

Op make_batched_gemm(std::string label, Component c, std::int64_t batch, std::int64_t m, std::int64_t n,
                     std::int64_t k, bool bias) {
  Op op = make_gemm(std::move(label), c, m, n, k, bias);
  op.name = "batched_gemm";
  op.shape["batch"] = batch;
  const double b = d(batch);
  op.fwd = op.fwd * b;
  op.bwd_input = op.bwd_input * b;
  op.bwd_weight = op.bwd_weight * b;
  op.fwd_read = op.fwd_read * b;
  op.fwd_written = op.fwd_written * b;
  op.bwd_read = op.bwd_read * b;
  op.bwd_written = op.bwd_written * b;
  op.saved = op.saved * b;
  op.params *= b;
  op.activated_params = op.params;
  return op;
}

Op make_grouped_gemm(std::string label, Component c, const std::vector<std::int64_t>& rows, std::int64_t n,
                     std::int64_t k, bool bias) {
  const std::int64_t total = std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
  Op op = make_gemm(std::move(label), c, total, n, k, bias);
  op.name = "grouped_gemm";
  op.shape = {{"groups", static_cast<std::int64_t>(rows.size())}, {"m_total", total}, {"n", n}, {"k", k}};
  const double g = d(static_cast<std::int64_t>(rows.size()));
  // Weights: one k x n matrix per group, read once forward and once in each backward GEMM.
  op.fwd_read = {(d(total) * d(k) + g * d(k) * d(n)) * kBf16Bytes};
  op.bwd_read = {(2 * d(total) * d(n) + g * d(k) * d(n) + d(total) * d(k)) * kBf16Bytes};
  op.bwd_written = {d(total) * d(k) * kBf16Bytes + g * d(k) * d(n) * kFp32Bytes};
  op.params = g * (d(k) * d(n) + (bias ? d(n) : 0));
  op.activated_params = op.params;
  return op;
}

Op make_attention(std::string label, Component c, std::int64_t batch, std::int64_t heads, std::int64_t kv_heads,
                  std::int64_t q_len, std::int64_t kv_len, std::int64_t head_dim, bool causal) {
  Op op;
  op.name = "attention_fwd";
  op.label = std::move(label);
  op.component = c;
  op.shape = {{"batch", batch},   {"heads", heads},   {"kv_heads", kv_heads},
              {"q_len", q_len},   {"kv_len", kv_len}, {"head_dim", head_dim},
              {"causal", causal ? 1 : 0}};
  // QK^T and PV: 2 * 2 * sq * skv * d per head; causal keeps about half the score matrix.
  const double f = 4 * d(batch) * d(heads) * d(q_len) * d(kv_len) * d(head_dim) * (causal ? 0.5 : 1.0);
  op.fwd = {f};
  op.bwd_input = {2 * f};  // dQ, dK, dV, dP: four GEMM-shaped products
  const double q = d(batch) * d(heads) * d(q_len) * d(head_dim) * kBf16Bytes;
  const double kv = d(batch) * d(kv_heads) * d(kv_len) * d(head_dim) * kBf16Bytes;
  const double lse = d(batch) * d(heads) * d(q_len) * kFp32Bytes;
  op.fwd_read = {q + 2 * kv};
  op.fwd_written = {q + lse};
  op.bwd_read = {2 * q + 2 * kv + lse};  // Q, O, dO, K, V, logsumexp
  op.bwd_written = {q + 2 * kv};         // dQ, dK, dV
  // Q, K, V and the logsumexp (flash-style backward); O too, but the output projection that
  // follows keeps it as its input (that GEMM's saved), where it is counted once.
  op.saved = {q + 2 * kv + lse};
  return op;
}

Op make_elementwise(std::string name, std::string label, Component c, std::int64_t elements, double reads,
                    double writes, double flops_per_element, double saved_tensors) {
  Op op;
  op.name = std::move(name);
  op.label = std::move(label);
  op.component = c;
  op.shape = {{"elements", elements}};
  const double e = d(elements);
  op.fwd = {e * flops_per_element};
  op.bwd_input = {2 * e * flops_per_element};
  op.fwd_read = {e * reads * kBf16Bytes};
  op.fwd_written = {e * writes * kBf16Bytes};
  // Backward reads the output gradient and what was saved, writes the input gradients.
  op.bwd_read = {e * (writes + saved_tensors) * kBf16Bytes};
  op.bwd_written = {e * reads * kBf16Bytes};
  op.saved = {e * saved_tensors * kBf16Bytes};
  return op;
}

Op make_ec_route(std::string label, std::int64_t tokens, std::int64_t experts, std::int64_t group,
                 std::int64_t capacity) {
  Op op = make_elementwise("ec_route", std::move(label), Component::kRouter, tokens * experts, 1, 1, 10, 1);
  op.shape = {{"tokens", tokens}, {"experts", experts}, {"group", group}, {"capacity", capacity}};
  return op;
}

Op make_tc_route(std::string label, std::int64_t tokens, std::int64_t experts, std::int64_t top_k) {
  Op op = make_elementwise("tc_route", std::move(label), Component::kRouter, tokens * experts, 1, 1, 10, 1);
  op.shape = {{"tokens", tokens}, {"experts", experts}, {"top_k", top_k}};
  return op;
}

}  // namespace ecsim
