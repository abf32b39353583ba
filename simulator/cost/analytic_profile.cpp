// Which kernel shapes an analytic profile covers, and the profile made from them. The shapes come
// from the model's own operator lists (model/model_ops.cpp) wherever they can, so that profile
// keys and simulated kernel calls are the same by construction; sweeps add the dimensions a
// layout search moves through (tokens per expert, sequence length).
#include "cost/analytic_profile.hpp"

#include <array>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "core/errors.hpp"
#include "model/model_ops.hpp"
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

// Images per micro-batch on one rank: 128..16384 tokens at about sqrt(2) steps (128 or 256 per image).
constexpr std::array<std::int64_t, 12> kSamples{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
constexpr std::array<std::int64_t, 4> kTensorParallel{1, 2, 4, 8};
constexpr std::array<std::int64_t, 7> kExpertParallel{1, 2, 4, 8, 16, 32, 64};
// Local experts of one batched or grouped expert GEMM.
constexpr std::array<std::int64_t, 7> kLocalExperts{1, 2, 4, 8, 16, 32, 64};
// Local experts of a ragged (token-choice) expert GEMM: fewer, pricing interpolates between them.
constexpr std::array<std::int64_t, 4> kRaggedExperts{2, 8, 32, 64};
// Tokens per expert: 16 * 2^(i/steps), i.e. 16..16384 at 2^(1/steps) steps.
constexpr int kRowStepsPerOctave = 1;
constexpr int kRowOctaves = 10;
constexpr double kFirstRows = 16;
// Attention sweeps: sequence lengths (256x256 .. 1024x1024 images), text tokens, head dims, and
// the tokens one rank holds at most per micro-batch.
constexpr std::array<std::int64_t, 6> kSeqLens{128, 256, 512, 1024, 2048, 4096};
constexpr std::int64_t kTextTokens = 128;
constexpr std::array<std::int64_t, 2> kHeadDims{64, 128};
constexpr std::array<std::int64_t, 7> kAttentionBatches{1, 2, 4, 8, 16, 32, 64};
constexpr std::int64_t kMaxAttentionTokens = 16384;
// Optimizer updates over 2^20..2^32 parameters held on one GPU (a 97B model over EP and ZeRO).
constexpr int kFirstParamsLog2 = 20;
constexpr int kLastParamsLog2 = 32;

std::int64_t local_heads(std::int64_t heads, std::int64_t tp) { return heads % tp == 0 ? heads / tp : 1; }

class CallSet {
 public:
  void add_op(const Op& op) {
    for (KernelCall& c : forward_kernels(op)) add(std::move(c));
    for (KernelCall& c : backward_kernels(op)) add(std::move(c));
  }
  void add(KernelCall c) {
    std::string key = c.op + "|" + c.dtype;
    for (const auto& [name, v] : c.shape) key += "|" + name + "=" + std::to_string(v);
    calls_.emplace(std::move(key), std::move(c));
  }
  std::vector<KernelCall> take() {
    std::vector<KernelCall> out;
    out.reserve(calls_.size());
    for (auto& [key, c] : calls_) out.push_back(std::move(c));
    return out;
  }

 private:
  std::map<std::string, KernelCall> calls_;  // ordered: the profile lists shapes deterministically
};

// The blocks' operators under every layout the sweep covers (one dense and one MoE block: the
// other blocks repeat their shapes).
void add_layouts(const ModelSpec& m, CallSet& calls) {
  for (const bool training : {true, false}) {
    for (const std::int64_t samples : kSamples) {
      for (const std::int64_t tp : kTensorParallel) {
        if (!tp_fits(m, tp)) continue;
        for (const std::int64_t ep : kExpertParallel) {
          if (ep > 1 && (!m.moe.enabled() || m.moe.experts % ep != 0)) continue;
          OpContext ctx;
          ctx.samples = samples;
          ctx.training = training;
          ctx.tp = tp;
          ctx.ep = ep;
          for (const Op& op : swept_layout_ops(m, ctx)) calls.add_op(op);
        }
      }
    }
  }
}

// Expert FFN GEMMs of width f = ffn/tp over d: fc1 [rows, f, d] and fc2 [rows, d, f], for every
// tokens-per-expert value and local expert count, uniform (batched) and ragged (grouped).
void add_expert_sweeps(std::int64_t d, std::int64_t f, CallSet& calls) {
  for (int i = 0; i <= kRowOctaves * kRowStepsPerOctave; ++i) {
    const double octaves = static_cast<double>(i) / kRowStepsPerOctave;
    const auto rows = static_cast<std::int64_t>(std::llround(kFirstRows * std::pow(2.0, octaves)));
    for (const std::int64_t e : kLocalExperts) {
      calls.add_op(make_batched_gemm("sweep.fc1", Component::kExperts, e, rows, f, d, true));
      calls.add_op(make_batched_gemm("sweep.fc2", Component::kExperts, e, rows, d, f, true));
    }
    for (const std::int64_t e : kRaggedExperts) {
      const std::vector<std::int64_t> groups(static_cast<std::size_t>(e), rows);
      calls.add_op(make_grouped_gemm("sweep.fc1", Component::kExperts, groups, f, d, true));
      calls.add_op(make_grouped_gemm("sweep.fc2", Component::kExperts, groups, d, f, true));
    }
  }
}

// Self- and cross-attention at longer sequences and at head dim 128 (half as many heads).
void add_attention_sweeps(const ModelSpec& m, std::int64_t tp, CallSet& calls) {
  for (const std::int64_t head_dim : kHeadDims) {
    const std::int64_t q_width = m.attention.heads * m.attention.head_dim;
    if (q_width % (head_dim * tp) != 0) continue;
    const std::int64_t heads = q_width / head_dim / tp;
    // KV heads merge as query heads do when the head dim doubles.
    const std::int64_t per_head = std::max<std::int64_t>(1, head_dim / m.attention.head_dim);
    const std::int64_t kv = local_heads(std::max<std::int64_t>(1, m.attention.kv_heads / per_head), tp);
    const std::int64_t text_kv = local_heads(std::max<std::int64_t>(1, m.dit.cross_kv_heads / per_head), tp);
    for (const std::int64_t seq : kSeqLens) {
      for (const std::int64_t batch : kAttentionBatches) {
        if (batch * seq > kMaxAttentionTokens) continue;
        calls.add_op(
            make_attention("sweep.self", Component::kSelfAttention, batch, heads, kv, seq, seq, head_dim, false));
        calls.add_op(make_attention("sweep.cross", Component::kCrossAttention, batch, heads, text_kv, seq, kTextTokens,
                                    head_dim, false));
      }
    }
  }
}

}  // namespace

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

std::vector<ModelSpec> load_ecdit_family(const std::filesystem::path& models_dir) {
  std::vector<ModelSpec> models;
  for (const char* file : kFamilyFiles) models.push_back(load_model_or_scenario(models_dir / file));
  return models;
}

std::vector<KernelCall> ecdit_kernel_calls(const std::vector<ModelSpec>& models) {
  CallSet calls;
  std::set<std::pair<std::int64_t, std::int64_t>> expert_shapes;  // (d, f/tp) swept already
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> attention_shapes;  // (d, heads, tp)
  for (const ModelSpec& m : models) {
    add_layouts(m, calls);
    for (const std::int64_t tp : kTensorParallel) {
      if (!tp_fits(m, tp)) continue;
      const std::int64_t f = m.ffn.width / tp;
      if (expert_shapes.insert({m.hidden, f}).second) add_expert_sweeps(m.hidden, f, calls);
      if (attention_shapes.insert({m.hidden, m.attention.heads, tp}).second) add_attention_sweeps(m, tp, calls);
    }
  }
  for (int log2 = kFirstParamsLog2; log2 <= kLastParamsLog2; ++log2) {
    calls.add(optimizer_kernel(std::ldexp(1.0, log2)));
  }
  return calls.take();
}

Profile make_analytic_profile(const GpuSpec& gpu, const std::vector<KernelCall>& calls) {
  Profile p;
  p.source = "analytic";
  p.device = {gpu.name, gpu.sms, gpu.hbm, 0, "none (analytic)", "none (analytic)"};
  p.matmul_ceiling = gpu.matmul_ceiling;
  p.hbm_ceiling = gpu.hbm_ceiling;
  for (const KernelCall& c : calls) {
    const auto t = static_cast<double>(analytic_kernel_time(gpu, c).value);
    p.ops.push_back({c.op, c.dtype, c.shape, t, t, t, 0});
  }
  return p;
}

}  // namespace ecsim
