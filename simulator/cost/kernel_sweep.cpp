// The kernel shapes a profile covers (kernel_sweep.hpp). The shapes come from the model's own
// operator lists (model/model_ops.cpp) wherever they can, so that profile keys and simulated
// kernel calls are the same by construction; sweeps add the dimensions a layout search moves
// through (tokens per expert, sequence length).
#include "cost/kernel_sweep.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <tuple>
#include <vector>

#include "core/errors.hpp"
#include "cost/analytic_model.hpp"
#include "scenario/scenario.hpp"

namespace ecsim {
namespace {

// Model files of the family, relative to scenarios/models/.
constexpr std::array<const char*, 27> kFamilyFiles{
    "ecdit-xl-dense.json",      "ecdit-xl-8e.json",      "ecdit-xl-16e.json",     "ecdit-xl-32e.json",
    "ecdit-xl-64e.json",        "ecdit-xl-32e-infer.json",
    "ecdit-xxl-dense.json",     "ecdit-xxl-8e.json",     "ecdit-xxl-16e.json",    "ecdit-xxl-32e.json",
    "ecdit-xxl-64e.json",       "ecdit-xxl-32e-infer.json",
    "ecdit-xxl-16e-tc-top2.json", "ecdit-xxl-32e-tc-top2.json",
    "ecdit-3xl-dense.json",     "ecdit-3xl-8e.json",     "ecdit-3xl-16e.json",    "ecdit-3xl-32e.json",
    "ecdit-3xl-64e.json",       "ecdit-3xl-32e-infer.json",
    "ecdit-m-dense.json",       "ecdit-m-8e.json",       "ecdit-m-16e.json",      "ecdit-m-32e.json",
    "ecdit-m-64e.json",         "ecdit-m-32e-infer.json", "ecdit-m-64e-infer.json",
};

// Tokens per expert: 16 * 2^i for i = 0..10, i.e. 16..16384.
constexpr double kFirstRows = 16;
constexpr int kRowOctaves = 10;
// Text tokens of the cross-attention, head dims, and the most tokens one attention call holds.
constexpr std::int64_t kTextTokens = 128;
constexpr std::array<std::int64_t, 2> kHeadDims{64, 128};
constexpr std::int64_t kMaxAttentionTokens = 16384;
// Optimizer updates over 2^20..2^32 parameters held on one GPU (a 97B model over EP and ZeRO).
// Routing sweeps: experts per MoE layer, and token choice's experts per token.
constexpr std::array<std::int64_t, 4> kRoutedExperts{8, 16, 32, 64};
constexpr std::array<std::int64_t, 2> kTopK{1, 2};
constexpr int kFirstParamsLog2 = 20;
constexpr int kLastParamsLog2 = 32;

std::int64_t local_heads(std::int64_t heads, std::int64_t tp) { return heads % tp == 0 ? heads / tp : 1; }

// One dense and one MoE block, the embedding and the head, under every layout of the sweep.
void walk_layouts(const ModelSpec& m, const SweepAxes& axes, SweepVisitor& visitor) {
  for (const bool training : {true, false}) {
    for (const std::int64_t samples : axes.samples) {
      for (const std::int64_t tp : axes.tensor_parallel) {
        if (!tp_fits(m, tp)) continue;
        for (const std::int64_t ep : axes.expert_parallel) {
          if (ep > 1 && (!m.moe.enabled() || m.moe.experts % ep != 0)) continue;
          OpContext ctx;
          ctx.samples = samples;
          ctx.training = training;
          ctx.tp = tp;
          ctx.ep = ep;
          for (const Op& op : swept_layout_ops(m, ctx)) visitor.layout_op(op);
        }
      }
    }
  }
}

// Expert FFN GEMMs of width f = ffn/tp over d: fc1 [rows, f, d] and fc2 [rows, d, f], for every
// tokens-per-expert value and local expert count, uniform (batched) and ragged (grouped).
void walk_expert_sweeps(std::int64_t d, std::int64_t f, const SweepAxes& axes, SweepVisitor& visitor) {
  for (int i = 0; i <= kRowOctaves; i += axes.row_octave_step) {
    const auto rows = static_cast<std::int64_t>(std::llround(kFirstRows * std::pow(2.0, i)));
    for (const std::int64_t e : axes.local_experts) {
      visitor.sweep_op(make_batched_gemm("sweep.fc1", Component::kExperts, e, rows, f, d, true));
      visitor.sweep_op(make_batched_gemm("sweep.fc2", Component::kExperts, e, rows, d, f, true));
    }
    for (const std::int64_t e : axes.ragged_experts) {
      const std::vector<std::int64_t> groups(static_cast<std::size_t>(e), rows);
      visitor.sweep_op(make_grouped_gemm("sweep.fc1", Component::kExperts, groups, f, d, true));
      visitor.sweep_op(make_grouped_gemm("sweep.fc2", Component::kExperts, groups, d, f, true));
    }
  }
}

// Self- and cross-attention at longer sequences and at head dim 128 (half as many heads).
void walk_attention_sweeps(const ModelSpec& m, std::int64_t tp, const SweepAxes& axes, SweepVisitor& visitor) {
  for (const std::int64_t head_dim : kHeadDims) {
    const std::int64_t q_width = m.attention.heads * m.attention.head_dim;
    if (q_width % (head_dim * tp) != 0) continue;
    const std::int64_t heads = q_width / head_dim / tp;
    // KV heads merge as query heads do when the head dim doubles.
    const std::int64_t per_head = std::max<std::int64_t>(1, head_dim / m.attention.head_dim);
    const std::int64_t kv = local_heads(std::max<std::int64_t>(1, m.attention.kv_heads / per_head), tp);
    const std::int64_t text_kv = local_heads(std::max<std::int64_t>(1, m.dit.cross_kv_heads / per_head), tp);
    for (const std::int64_t seq : axes.seq_lens) {
      for (const std::int64_t batch : axes.attention_batches) {
        if (batch * seq > kMaxAttentionTokens) continue;
        visitor.sweep_op(
            make_attention("sweep.self", Component::kSelfAttention, batch, heads, kv, seq, seq, head_dim, false));
        visitor.sweep_op(make_attention("sweep.cross", Component::kCrossAttention, batch, heads, text_kv, seq,
                                        kTextTokens, head_dim, false));
      }
    }
  }
}

// Routing over 8 to 64 experts whatever the models' own counts, for each micro-batch's training
// tokens: the selection is latency-bound, about as long at 8 experts as at 64 (an H200, the runner
// and the profiler, 2026-11-28), which no sweep over the models' counts alone can tell. Expert
// choice with each MoE model's group and capacity factor; token choice with top 1 and top 2.
void walk_routing_sweeps(const std::vector<ModelSpec>& models, const SweepAxes& axes, SweepVisitor& visitor) {
  for (const ModelSpec& model : models) {
    if (!model.moe.enabled() || model.moe.routing.kind != RoutingKind::kExpertChoice) continue;
    for (const std::int64_t experts : kRoutedExperts) {
      ModelSpec m = model;
      m.moe.experts = experts;
      const std::int64_t g = m.moe.routing.group_tokens;
      const std::int64_t c = expert_choice_capacity(m);
      if (c < 1) continue;
      for (const std::int64_t samples : axes.samples) {
        const std::int64_t tokens = samples * m.tokens_per_sample(true);
        if (tokens % g != 0) continue;
        visitor.sweep_op(make_ec_route("sweep.route", tokens, experts, g, c));
        for (const std::int64_t k : kTopK) visitor.sweep_op(make_tc_route("sweep.route", tokens, experts, k));
      }
    }
  }
}

}  // namespace

const SweepAxes& full_sweep_axes() {
  static const SweepAxes axes{
      {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64},  // 128..16384 tokens at about sqrt(2) steps
      {1, 2, 4, 8},
      {1, 2, 4, 8, 16, 32, 64},
      {1, 2, 4, 8, 16, 32, 64},
      {2, 8, 32, 64},  // fewer: pricing interpolates between them
      1,
      {128, 256, 512, 1024, 2048, 4096},  // 256x256 .. 1024x1024 images
      {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64},
      1,
  };
  return axes;
}

std::vector<OptimizerSpec> runner_optimizer_recipes() {
  std::vector<OptimizerSpec> recipes;
  for (const Dtype state : {Dtype::kFp32, Dtype::kBf16}) {
    for (const Dtype grads : {Dtype::kFp32, Dtype::kBf16}) {
      OptimizerSpec r;
      r.master = r.moments = state;
      r.grads = grads;
      recipes.push_back(r);
    }
  }
  return recipes;
}

std::vector<KernelCall> bf16_weight_grad_kernels(const Op& op) {
  std::vector<KernelCall> out;
  if (kernel_class(op.name) != KernelClass::kMatmul) return out;
  for (KernelCall& c : backward_kernels(op, WeightGrads::kWrite, Dtype::kBf16)) {
    if (is_weight_grad_gemm(c.op)) out.push_back(std::move(c));
  }
  return out;
}

void walk_kernel_sweep(const std::vector<ModelSpec>& models, const SweepAxes& axes, SweepVisitor& visitor,
                       const std::vector<CampaignConfig>& campaign) {
  std::set<std::pair<std::int64_t, std::int64_t>> expert_shapes;                    // (d, f/tp) swept already
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> attention_shapes;  // (d, heads, tp)
  for (const ModelSpec& m : models) {
    walk_layouts(m, axes, visitor);
    for (const std::int64_t tp : axes.tensor_parallel) {
      if (!tp_fits(m, tp)) continue;
      const std::int64_t f = m.ffn.width / tp;
      if (expert_shapes.insert({m.hidden, f}).second) walk_expert_sweeps(m.hidden, f, axes, visitor);
      if (attention_shapes.insert({m.hidden, m.attention.heads, tp}).second) {
        walk_attention_sweeps(m, tp, axes, visitor);
      }
    }
  }
  walk_routing_sweeps(models, axes, visitor);
  for (const CampaignConfig& c : campaign) {
    for (const Op& op : swept_layout_ops(c.model, c.ctx)) visitor.layout_op(op);
  }
  for (const OptimizerSpec& recipe : runner_optimizer_recipes()) {
    for (int log2 = kFirstParamsLog2; log2 <= kLastParamsLog2; log2 += axes.params_log2_step) {
      visitor.optimizer(optimizer_kernel(std::ldexp(1.0, log2), recipe));
    }
  }
}

std::vector<ModelSpec> load_ecdit_family(const std::filesystem::path& models_dir) {
  std::vector<ModelSpec> models;
  for (const char* file : kFamilyFiles) models.push_back(load_model_or_scenario(models_dir / file));
  return models;
}

std::vector<CampaignConfig> load_validation_campaign(const std::filesystem::path& dir) {
  std::vector<CampaignConfig> campaign;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return campaign;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const Scenario s = load_scenario(file);
    CampaignConfig c;
    c.file = file.filename().string();
    c.model = s.model;
    const Layout layout = s.layout.value_or(Layout{});
    c.ctx.samples = layout.mbs;
    c.ctx.training = s.run.mode == RunMode::kTrain;
    c.ctx.tp = layout.tp;
    c.ctx.ep = layout.ep;
    campaign.push_back(std::move(c));
  }
  return campaign;
}

std::filesystem::path validation_dir_beside(const std::filesystem::path& models_dir) {
  std::filesystem::path dir = models_dir.lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "scenarios/models/"
  return dir.parent_path() / "validation";
}

bool tp_fits(const ModelSpec& m, std::int64_t tp) { return m.attention.heads % tp == 0 && m.ffn.width % tp == 0; }

std::vector<Op> swept_layout_ops(const ModelSpec& m, const OpContext& ctx) {
  std::vector<Op> ops;
  try {
    ops = pre_ops(m, ctx);
    for (Op& op : block_ops(m, 0, ctx)) ops.push_back(std::move(op));
    if (m.moe.enabled()) {
      for (Op& op : block_ops(m, m.moe.first, ctx)) ops.push_back(std::move(op));
    }
    for (Op& op : post_ops(m, ctx)) ops.push_back(std::move(op));
  } catch (const InputError&) {
    return {};  // a layout this model does not allow
  }
  return ops;
}

}  // namespace ecsim
