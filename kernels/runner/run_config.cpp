#include "runner/run_config.hpp"

#include "core/atomic_file.hpp"
#include "core/errors.hpp"
#include "precondition.hpp"
#include "routing_limits.hpp"

namespace ecsim::runner {
namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

model_ref::ModelConfig model_config_from_spec(const ModelSpec& m, const std::string& file) {
  if (m.kind != ModelKind::kDit) throw InputError(file, "/model/kind", "ecsim-run trains diffusion transformers only");
  if (m.moe.shared_experts > 0) {
    throw InputError(file, "/model/moe/shared_experts", "shared experts are not built by ecsim-run");
  }
  if (m.ffn.activation != Activation::kGelu) {
    throw InputError(file, "/model/ffn/activation", "ecsim-run builds the GeLU FFN only (EC-DiT's)");
  }
  if (!m.ffn.bias || !m.attention.qkv_bias) {
    throw InputError(file, m.ffn.bias ? "/model/attention/bias" : "/model/ffn/bias",
                     "ecsim-run builds EC-DiT's block, which has biases on every GEMM but the router");
  }
  if (m.attention.causal) throw InputError(file, "/model/attention/causal", "a DiT's self-attention is not causal");
  if (m.dit.adaln != AdaLnKind::kPerBlock || m.dit.adaln_vectors != 6) {
    throw InputError(file, "/model/dit/adaln",
                     "ecsim-run builds per-block adaLN with 6 vectors (EC-DiT's), not adaLN-single or 9 vectors");
  }
  if (m.dit.out_channels != m.dit.latent_channels) {
    throw InputError(file, "/model/dit/out_channels",
                     "the rectified-flow runner predicts the velocity: out_channels must equal latent_channels");
  }
  model_ref::ModelConfig c;
  c.hidden = m.hidden;
  c.layers = m.layers;
  c.heads = m.attention.heads;
  c.kv_heads = m.attention.kv_heads;
  c.head_dim = m.attention.head_dim;
  c.ffn_width = m.ffn.width;
  c.experts = m.moe.experts;
  c.routing = m.moe.routing.kind == RoutingKind::kTokenChoice ? model_ref::Routing::kTokenChoice
                                                                : model_ref::Routing::kExpertChoice;
  c.top_k = m.moe.routing.top_k;
  c.capacity_factor = m.moe.routing.capacity_factor;
  c.group_tokens = m.moe.routing.group_tokens;
  c.moe_every = m.moe.every;
  c.moe_first = m.moe.first;
  c.text_tokens = m.dit.text_tokens;
  c.text_width = m.dit.text_width;
  c.cross_kv_heads = m.dit.cross_kv_heads;
  c.latent_size = m.dit.latent_size;
  c.latent_channels = m.dit.latent_channels;
  c.patch = m.dit.patch;
  c.cond_width = m.dit.cond_width;
  c.timestep_freq_dim = m.dit.timestep_freq_dim;
  c.mask_ratio = m.dit.mask_ratio;
  try {
    c.validate();
  } catch (const PreconditionError& e) {
    throw InputError(file, "/model", e.what());
  }
  // The fused attention kernel's tiles (attention.cuh) and the GEMMs' 16-byte rows (gemm.cuh).
  if (c.head_dim != 64 && c.head_dim != 128) {
    throw InputError(file, "/model/attention/head_dim", "the attention kernel runs head_dim 64 or 128, got " +
                                                            str(c.head_dim));
  }
  for (const auto& [path, v] : {std::pair<const char*, std::int64_t>{"/model/hidden", c.hidden},
                                {"/model/ffn/width", c.ffn_width},
                                {"/model/dit/adaln/cond_width", c.cond_width},
                                {"/model/dit/text/width", c.text_width},
                                {"/model/dit/timestep_freq_dim", c.timestep_freq_dim},
                                {"/model/moe/experts", c.experts}}) {
    if (v % 8 != 0) {
      throw InputError(file, path, str(v) + " is not a multiple of 8, which the cuBLAS GEMMs' 16-byte rows need");
    }
  }
  if (c.experts > 0 && c.routing == model_ref::Routing::kTokenChoice) {
    if (c.top_k > kMaxTopK) {
      throw InputError(file, "/model/moe/routing/top_k", str(c.top_k) + " exceeds the " + str(kMaxTopK) +
                                                             " experts per token the token-choice kernels pick");
    }
    if (c.experts > kMaxTokenChoiceExperts) {
      throw InputError(file, "/model/moe/experts", str(c.experts) + " exceeds the " + str(kMaxTokenChoiceExperts) +
                                                       " experts the token-choice kernels route");
    }
  } else if (c.experts > 0) {
    if (c.group_tokens > kMaxGroupTokens) {
      throw InputError(file, "/model/moe/routing/group_tokens", str(c.group_tokens) + " exceeds the " +
                                                                     str(kMaxGroupTokens) +
                                                                     " tokens an expert-choice group holds");
    }
    if (c.experts > kMaxExperts) {
      throw InputError(file, "/model/moe/experts", str(c.experts) + " exceeds the " + str(kMaxExperts) +
                                                       " experts the expert-choice combine holds");
    }
  }
  if (c.patch_dim() % 8 != 0) {
    throw InputError(file, "/model/dit/patch", "patch^2 * latent_channels = " + str(c.patch_dim()) +
                                                   " is not a multiple of 8, which the GEMMs need");
  }
  return c;
}

OptimizerStorage optimizer_storage(const OptimizerSpec& o, const std::string& file) {
  if (o.master != o.moments) {
    throw InputError(file, "/run/optimizer/moment_dtype",
                     "ecsim-run keeps fp32 moments with fp32 master weights and bf16 moments with none "
                     "(master_dtype bf16): moment_dtype and master_dtype must be equal");
  }
  return o.master == Dtype::kFp32 ? OptimizerStorage::kFp32Master : OptimizerStorage::kBf16;
}

RunConfig resolve_run_config(const RunOptions& o, std::int64_t world_size) {
  if (o.steps < 1) throw InputError("--steps: must be at least 1, got " + str(o.steps));
  if (o.warmup < 0) throw InputError("--warmup: must not be negative, got " + str(o.warmup));
  RunConfig rc;
  rc.scenario = load_scenario(o.scenario);
  // Refused now rather than after the training steps, whose measurements they hold; after the
  // scenario is read, so that an output naming it or a file it references is refused too.
  if (!o.json.empty()) require_output_path(o.json, "--json");
  if (!o.trace.empty()) require_output_path(o.trace, "--trace");
  require_distinct_outputs(o.json, "--json", o.trace, "--trace");
  Scenario& s = rc.scenario;
  const std::string file = o.scenario.string();
  if (s.run.mode != RunMode::kTrain) throw InputError(file, "/run/mode", "ecsim-run runs training steps");
  if (s.run.optimizer.kind != "adamw") {
    throw InputError(file, "/run/optimizer/kind", "ecsim-run steps AdamW (kernels/adamw.cu), got " +
                                                       s.run.optimizer.kind);
  }
  rc.storage = optimizer_storage(s.run.optimizer, file);
  rc.grads = s.run.optimizer.grads == Dtype::kBf16 ? GradientStorage::kBf16 : GradientStorage::kFp32;
  if (!s.cluster) throw InputError(file, "/cluster", "required: the layout is planned on it");
  if (o.layers != 0) {
    if (o.layers < 1 || o.layers > s.model.layers) {
      throw InputError("--layers: " + str(o.layers) + " outside [1, " + str(s.model.layers) + "] (the model's blocks)");
    }
    s.model.layers = o.layers;
    rc.layers_override = o.layers;
  }
  rc.model = model_config_from_spec(s.model, file);

  std::string source = file + ": /layout";
  Layout layout = s.layout.value_or(Layout{});
  if (!o.layout.empty()) {
    layout = apply_layout_flag(layout, o.layout);
    source = "--layout";
  } else if (!s.layout) {
    throw InputError(file, "/layout", "required (or pass --layout)");
  }
  rc.plan = plan_layout(s, layout, source);
  const Layout& l = rc.plan.layout;
  const std::string where = o.layout.empty() ? file + ": /layout" : std::string("--layout");
  if (l.tp != 1 || l.pp != 1) throw InputError(where + ": ecsim-run runs tp=1, pp=1 (data and expert parallel only)");
  // ep: plan_layout has checked that it divides the experts and dp (expert_parallel.hpp's groups).
  if (l.recompute != Recompute::kNone) throw InputError(where + ": ecsim-run keeps every activation (recompute=none)");
  if (l.dp > 1 && l.zero != 0) {
    throw InputError(where + ": ecsim-run all-reduces whole gradients and keeps whole optimizer states (zero=0) when "
                             "dp > 1");
  }
  if (rc.plan.gpus != world_size) {
    throw InputError(where + ": the layout needs " + str(rc.plan.gpus) + " GPUs, the launcher started " +
                     str(world_size) + " process(es)");
  }
  rc.images_per_micro_batch = l.mbs;
  rc.micro_batches = rc.plan.micro_batches;
  const std::int64_t tokens = l.mbs * rc.model.kept_tokens();
  if (rc.model.experts > 0 && rc.model.routing == model_ref::Routing::kTokenChoice && l.ep > 1) {
    throw InputError(where + ": expert parallelism (ep > 1) runs expert-choice models only; this model routes by "
                             "token choice");
  }
  if (rc.model.experts > 0 && rc.model.routing == model_ref::Routing::kExpertChoice &&
      tokens % rc.model.group_tokens != 0) {
    throw InputError(where + ": a micro-batch of " + str(l.mbs) + " images has " + str(tokens) +
                     " tokens, not a multiple of the routing group " + str(rc.model.group_tokens));
  }
  rc.seed = o.seed != 0 ? o.seed : s.run.seed;
  rc.layout_string = layout_to_string(l);
  return rc;
}

}  // namespace ecsim::runner
