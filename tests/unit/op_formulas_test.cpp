// Operator formulas, each expected value derived in the comment beside it.
#include <doctest/doctest.h>

#include <filesystem>

#include "cost/compute_cost.hpp"
#include "model/accounting.hpp"
#include "model/model_ops.hpp"
#include "scenario/scenario.hpp"

using namespace ecsim;

namespace {

ModelSpec load(const std::string& name) {
  return load_model_or_scenario(std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "models" / name);
}

double sum_params(const std::vector<Op>& ops) {
  double p = 0;
  for (const auto& op : ops) p += op.params;
  return p;
}

const Op& find(const std::vector<Op>& ops, const std::string& label) {
  for (const auto& op : ops) {
    if (op.label == label) return op;
  }
  FAIL("no op " << label);
  return ops.front();
}

}  // namespace

TEST_CASE("gemm: y[m,n] = x[m,k] W[k,n] + b") {
  const Op g = make_gemm("g", Component::kFfn, 256, 4608, 1152, true);
  CHECK(g.fwd.value == 2.0 * 256 * 4608 * 1152);         // 2mnk = 2717908992
  CHECK(g.bwd_input.value == g.fwd.value);                // dX = dY W^T: 2mnk
  CHECK(g.bwd_weight.value == g.fwd.value);               // dW = X^T dY: 2mnk
  CHECK(g.params == 1152.0 * 4608 + 4608);                // kn + n
  CHECK(g.fwd_read.value == (256.0 * 1152 + 1152.0 * 4608) * 2);  // X and W in bf16
  CHECK(g.fwd_written.value == 256.0 * 4608 * 2);
  CHECK(g.saved.value == 256.0 * 1152 * 2);               // X kept for dW
}

TEST_CASE("batched and grouped gemms scale with their groups") {
  const Op b = make_batched_gemm("e", Component::kExperts, 8, 512, 12288, 3072, false);
  CHECK(b.fwd.value == 8 * 2.0 * 512 * 12288 * 3072);
  CHECK(b.params == 8.0 * 3072 * 12288);
  const Op g = make_grouped_gemm("e", Component::kExperts, {100, 300, 0, 624}, 12288, 3072, false);
  CHECK(g.fwd.value == 2.0 * 1024 * 12288 * 3072);  // rows add up to 1024
  CHECK(g.params == 4.0 * 3072 * 12288);
}

TEST_CASE("attention: 4*b*h*sq*skv*d forward, twice that backward, half when causal") {
  // ANCHORS.md counts attention as 4*B*H*S^2*D; M self-attention: 32 images x 48 heads, 256 tokens, d 64.
  const Op a = make_attention("a", Component::kSelfAttention, 32, 48, 12, 256, 256, 64, false);
  CHECK(a.fwd.value == 4.0 * 32 * 48 * 256 * 256 * 64);
  CHECK(a.bwd_input.value == 2 * a.fwd.value);
  CHECK(a.params == 0);
  const Op c = make_attention("a", Component::kSelfAttention, 1, 32, 8, 4096, 4096, 128, true);
  CHECK(c.fwd.value == 0.5 * 4.0 * 32 * 4096 * 4096 * 128);
  // GQA: K and V carry 8 heads, Q and O 32: bytes read = (Q + K + V) in bf16.
  CHECK(c.fwd_read.value == (32.0 * 4096 * 128 + 2 * 8.0 * 4096 * 128) * 2);
}

TEST_CASE("EC-DiT-M block: 16 d^2 parameters (the count behind the paper's totals)") {
  const ModelSpec m = load("ecdit-m-dense.json");
  const double d = 3072, kv = 12 * 64;
  const auto ops = block_ops(m, 0, OpContext{.samples = 1});
  // self-attention: Wq, Wo d^2 each, Wk, Wv d x kv each (GQA), biases q+2kv and d.
  CHECK(sum_params({find(ops, "self_attn.qkv"), find(ops, "self_attn.out")}) ==
        2 * d * d + 2 * d * kv + (d + 2 * kv) + d);
  // FFN: d x 4d and 4d x d with biases.
  CHECK(sum_params({find(ops, "ffn.fc1"), find(ops, "ffn.fc2")}) == 8 * d * d + 4 * d + d);
  // adaLN: 6 modulation vectors of d from a conditioning vector of d/2 (scenarios/README.md).
  CHECK(find(ops, "adaln.modulation").params == 6 * d * (d / 2) + 6 * d);
  // Weights alone: 2.5 + 2.5 + 8 + 3 = 16 d^2 (kv = d/4).
  const double biases = 2 * ((d + 2 * kv) + d) + (4 * d + d) + 6 * d;
  CHECK(sum_params(ops) == doctest::Approx(16 * d * d + biases).epsilon(1e-12));
}

TEST_CASE("expert choice: C = G f_c / E and each token gets f_c experts on average") {
  const ModelSpec m = load("ecdit-m-64e.json");
  CHECK(expert_choice_capacity(m) == 32);  // 1024 * 2 / 64
  // 8 images x 128 tokens = one routing group of 1024 tokens.
  const auto ops = block_ops(m, 1, OpContext{.samples = 8});
  const Op& fc1 = find(ops, "moe.expert_fc1");
  CHECK(fc1.name == "batched_gemm");
  CHECK(fc1.shape.at("batch") == 64);
  CHECK(fc1.shape.at("m") == 32);
  // Expert FLOPs: E*C = 2048 (token, expert) pairs x 2 GEMMs x 2*d*4d = f_c * 16 d^2 per token.
  const double d = 3072;
  CHECK(fc1.fwd.value + find(ops, "moe.expert_fc2").fwd.value == 2 * 1024 * 16 * d * d);
  // Router: 2 * T * d * E.
  CHECK(find(ops, "moe.router").fwd.value == 2.0 * 1024 * d * 64);
  // Activated expert parameters: f_c = 2 experts of 8 d^2 (+ biases) per token.
  CHECK(fc1.activated_params + find(ops, "moe.expert_fc2").activated_params ==
        doctest::Approx(2 * (8 * d * d + 4 * d + d)));
}

TEST_CASE("expert choice rejects micro-batches that do not fill whole routing groups") {
  const ModelSpec m = load("ecdit-m-64e.json");
  CHECK_THROWS_WITH_AS(block_ops(m, 1, OpContext{.samples = 4}), doctest::Contains("whole groups of 1024"),
                       InputError);
}

TEST_CASE("expert parallel: each rank computes its experts for all EP ranks' tokens") {
  const ModelSpec m = load("ecdit-m-64e.json");
  const auto ops = block_ops(m, 1, OpContext{.samples = 8, .ep = 8});
  const Op& fc1 = find(ops, "moe.expert_fc1");
  CHECK(fc1.shape.at("batch") == 8);    // 64 / 8 local experts
  CHECK(fc1.shape.at("m") == 32 * 8);   // C per group from each of 8 ranks
  CHECK(fc1.sharding == ParamSharding::kExpertParallel);
}

TEST_CASE("token choice with capacity pads every expert to capacity, dropless is ragged") {
  const ModelSpec m = load("ecdit-xxl-32e-tc-top2.json");
  // 8 images x 128 tokens = 1024 tokens, top-2 over 32 experts, capacity factor 1: ceil(1024*2/32) = 64.
  CHECK(token_choice_capacity(m, 1024) == 64);
  const auto ops = block_ops(m, 1, OpContext{.samples = 8});
  CHECK(find(ops, "moe.expert_fc1").shape.at("m") == 64);
  OpContext skewed{.samples = 8};
  skewed.expert_rows.assign(32, 0);
  skewed.expert_rows[0] = 2048;
  const auto ragged = block_ops(m, 1, skewed);
  CHECK(find(ragged, "moe.expert_fc1").name == "grouped_gemm");
  CHECK(find(ragged, "moe.expert_fc1").shape.at("m_total") == 2048);
}

TEST_CASE("tensor parallel splits heads and FFN width") {
  const ModelSpec m = load("ecdit-xl-dense.json");
  const auto one = block_ops(m, 0, OpContext{.samples = 2});
  const auto two = block_ops(m, 0, OpContext{.samples = 2, .tp = 2});
  CHECK(find(two, "ffn.fc1").fwd.value == find(one, "ffn.fc1").fwd.value / 2);
  CHECK(find(two, "self_attn.attention").shape.at("heads") == 9);
  CHECK(find(two, "self_attn.attention").shape.at("kv_heads") == 3);
}

TEST_CASE("MaskDiT masking halves the tokens in training, inference uses all 256") {
  const ModelSpec m = load("ecdit-xl-dense.json");
  CHECK(m.tokens_per_sample(true) == 128);
  CHECK(m.tokens_per_sample(false) == 256);
}

TEST_CASE("residual branches: the add's backward runs nothing, the norms' backward sums the two paths") {
  // EC-DiT-XL dense, 4 images of 128 tokens: e = 512 x 1152 elements per [T, d] tensor, 2 bytes each.
  const ModelSpec m = load("ecdit-xl-dense.json");
  OpContext ctx;
  ctx.samples = 4;
  const std::vector<Op> block = block_ops(m, 0, ctx);
  const double e_bytes = 512.0 * 1152 * kBf16Bytes;
  // x2 = x1 + cross: both gradients are the output's, so no backward kernel (a zero-time task).
  const Op& add = find(block, "cross_attn.residual");
  CHECK(add.name == "residual_add");
  CHECK(backward_kernels(add).empty());
  // x1 = x + gate y: the backward writes dy only (x's gradient is the output's, passed on).
  const Op& gated = find(block, "self_attn.residual");
  CHECK(gated.bwd_written.value == doctest::Approx(e_bytes));
  // Each norm of the block reads the residual path's gradient besides dy and its saved input.
  for (const char* norm : {"self_attn.norm", "cross_attn.norm", "ffn.norm"}) {
    CAPTURE(norm);
    CHECK(find(block, norm).bwd_read.value == doctest::Approx(3 * e_bytes));
  }
  // The final norm opens no branch but is priced alike: a profile key has one price.
  const std::vector<Op> post = post_ops(m, ctx);
  CHECK(find(post, "final.norm").bwd_read.value == doctest::Approx(3 * e_bytes));
}
