#include "runner/op_plan.hpp"

#include <algorithm>

namespace ecsim::runner {

std::vector<TracedOp> block_forward_plan(const model_ref::ModelConfig& c, std::int64_t layer, std::int64_t ep) {
  std::vector<TracedOp> ops;
  auto add = [&](const char* name, const char* label) { ops.push_back({name, label, layer}); };
  add("gemm", "adaln.modulation");
  add("adaln_layernorm", "self_attn.norm");
  add("gemm", "self_attn.qkv");
  add("attention_fwd", "self_attn.attention");
  add("gemm", "self_attn.out");
  add("gate_residual", "self_attn.residual");
  if (c.has_cross_attention()) {
    add("layernorm", "cross_attn.norm");
    add("gemm", "cross_attn.q");
    add("gemm", "cross_attn.kv");
    add("attention_fwd", "cross_attn.attention");
    add("gemm", "cross_attn.out");
    add("residual_add", "cross_attn.residual");
  }
  add("adaln_layernorm", "ffn.norm");
  if (c.is_moe_layer(layer)) {
    const bool token_choice = c.routing == model_ref::Routing::kTokenChoice;
    // Expert choice and padded token choice: every expert computes a fixed row count; dropless: ragged.
    const char* expert_gemm = c.dropless() ? "grouped_gemm" : "batched_gemm";
    add("gemm", "moe.router");
    add(token_choice ? "tc_route" : "ec_route", "moe.route");
    add("permute", "moe.dispatch_gather");
    if (ep > 1) add("all_to_all", "ep.dispatch");
    add(expert_gemm, "moe.expert_fc1");
    add("gelu", "moe.expert_gelu");
    add(expert_gemm, "moe.expert_fc2");
    if (ep > 1) add("all_to_all", "ep.combine");
    add("unpermute", "moe.combine");
  } else {
    add("gemm", "ffn.fc1");
    add("gelu", "ffn.gelu");
    add("gemm", "ffn.fc2");
  }
  add("gate_residual", "ffn.residual");
  return ops;
}

std::vector<TracedOp> model_forward_plan(const model_ref::ModelConfig& c, std::int64_t ep) {
  std::vector<TracedOp> ops = {{"gemm", "embed.patch", -1},
                               {"gemm", "embed.timestep_fc1", -1},
                               {"silu", "embed.timestep_silu", -1},
                               {"gemm", "embed.timestep_fc2", -1}};
  for (std::int64_t l = 0; l < c.layers; ++l) {
    for (TracedOp& op : block_forward_plan(c, l, ep)) ops.push_back(std::move(op));
  }
  ops.push_back({"gemm", "final.modulation", c.layers});
  ops.push_back({"adaln_layernorm", "final.norm", c.layers});
  ops.push_back({"gemm", "final.linear", c.layers});
  ops.push_back({"flow_loss", "final.loss", c.layers});
  return ops;
}

std::string backward_name(const std::string& forward_name) {
  if (forward_name == "gemm" || forward_name == "batched_gemm" || forward_name == "grouped_gemm") return forward_name;
  if (forward_name == "attention_fwd") return "attention_bwd";
  if (forward_name == "all_to_all") return forward_name;  // the mirror of an all-to-all is one
  return forward_name + "_bwd";
}

std::vector<TracedOp> model_backward_plan(const model_ref::ModelConfig& c, std::int64_t ep) {
  std::vector<TracedOp> ops = model_forward_plan(c, ep);
  std::reverse(ops.begin(), ops.end());
  for (TracedOp& op : ops) op.op = backward_name(op.op);
  return ops;
}

}  // namespace ecsim::runner
