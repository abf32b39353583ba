#include "model/model_spec.hpp"

#include <cmath>

namespace ecsim {
namespace {

constexpr std::int64_t kMaxDim = 1 << 20;

AttentionSpec parse_attention(ObjectReader r, std::int64_t hidden, bool llm) {
  AttentionSpec a;
  a.heads = r.integer("heads", 1, 4096);
  a.kv_heads = r.integer_or("kv_heads", a.heads, 1, 4096);
  if (a.heads % a.kv_heads != 0) {
    r.required("kv_heads").fail("kv_heads " + std::to_string(a.kv_heads) + " does not divide heads " +
                                std::to_string(a.heads));
  }
  if (!r.has("head_dim") && hidden % a.heads != 0) {
    r.required("heads").fail("heads " + std::to_string(a.heads) + " does not divide hidden " +
                             std::to_string(hidden) + "; give head_dim");
  }
  a.head_dim = r.integer_or("head_dim", hidden / a.heads, 1, 1024);
  a.causal = r.boolean_or("causal", llm);
  a.qkv_bias = r.boolean_or("bias", !llm);
  r.finish();
  return a;
}

FfnSpec parse_ffn(ObjectReader r, std::int64_t hidden, bool llm) {
  FfnSpec f;
  f.activation = r.choice("activation", {"gelu", "swiglu"}, llm ? "swiglu" : "gelu") == "gelu"
                     ? Activation::kGelu
                     : Activation::kSwiglu;
  if (r.has("width") && r.has("multiplier")) {
    r.required("width").fail("give either width or multiplier, not both");
  }
  if (r.has("width")) {
    f.width = r.integer("width", 1, kMaxDim);
  } else {
    const double mult = r.positive_or("multiplier", 4.0);
    f.width = static_cast<std::int64_t>(std::llround(mult * static_cast<double>(hidden)));
  }
  f.bias = r.boolean_or("bias", !llm);
  r.finish();
  return f;
}

RoutingSpec parse_routing(ObjectReader r, std::int64_t experts) {
  RoutingSpec s;
  const std::string kind = r.choice("kind", {"expert_choice", "token_choice"});
  if (kind == "expert_choice") {
    s.kind = RoutingKind::kExpertChoice;
    s.capacity_factor = r.positive_or("capacity_factor", 2.0);
    s.group_tokens = r.integer_or("group_tokens", 1024, 1, 1 << 24);
    const double c = std::floor(static_cast<double>(s.group_tokens) * s.capacity_factor /
                                static_cast<double>(experts));
    if (c < 1) {
      r.required("group_tokens").fail("capacity C = floor(G*f_c/E) = floor(" + std::to_string(s.group_tokens) +
                                      "*" + std::to_string(s.capacity_factor) + "/" + std::to_string(experts) +
                                      ") is 0; each expert must take at least one token per group");
    }
  } else {
    s.kind = RoutingKind::kTokenChoice;
    s.top_k = r.integer("top_k", 1, experts);
    const bool dropless = r.boolean_or("dropless", false);
    if (dropless && r.has("capacity_factor")) {
      r.required("capacity_factor").fail("a dropless router has no capacity factor");
    }
    s.capacity_factor = dropless ? 0.0 : r.positive("capacity_factor");
    s.group_tokens = r.integer_or("group_tokens", 0, 0, 1 << 24);  // 0: the whole micro-batch
  }
  r.finish();
  return s;
}

MoeSpec parse_moe(ObjectReader r, std::int64_t layers) {
  MoeSpec m;
  m.experts = r.integer("experts", 1, 65536);
  m.every = r.integer_or("every", 2, 1, layers);
  m.first = r.integer_or("first", 1, 0, layers - 1);
  m.shared_experts = r.integer_or("shared_experts", 0, 0, 64);
  m.routing = parse_routing(ObjectReader(r.required("routing")), m.experts);
  r.finish();
  return m;
}

DitSpec parse_dit(ObjectReader r, std::int64_t hidden, std::int64_t heads) {
  DitSpec d;
  d.latent_size = r.integer_or("latent_size", 32, 1, 4096);
  d.latent_channels = r.integer_or("latent_channels", 4, 1, 1024);
  d.patch = r.integer_or("patch", 2, 1, 64);
  if (d.latent_size % d.patch != 0) {
    r.required("patch").fail("patch " + std::to_string(d.patch) + " does not divide latent_size " +
                             std::to_string(d.latent_size));
  }
  d.out_channels = r.integer_or("out_channels", d.latent_channels, 1, 2048);
  d.mask_ratio = r.number_or("mask_ratio", 0.0, 0.0, 0.95);
  if (auto t = r.optional("text")) {
    ObjectReader tr(*t);
    d.text_tokens = tr.integer("tokens", 1, 1 << 16);
    d.text_width = tr.integer_or("width", hidden, 1, kMaxDim);
    d.cross_kv_heads = tr.integer_or("kv_heads", heads, 1, heads);
    if (heads % d.cross_kv_heads != 0) {
      tr.required("kv_heads").fail("kv_heads " + std::to_string(d.cross_kv_heads) + " does not divide heads " +
                                   std::to_string(heads));
    }
    tr.finish();
  }
  if (auto a = r.optional("adaln")) {
    ObjectReader ar(*a);
    d.adaln = ar.choice("kind", {"per_block", "single"}, "per_block") == "per_block" ? AdaLnKind::kPerBlock
                                                                                     : AdaLnKind::kSingle;
    d.adaln_vectors = ar.integer_or("vectors", d.text_tokens > 0 ? 9 : 6, 6, 9);
    if (d.adaln_vectors != 6 && d.adaln_vectors != 9) {
      ar.required("vectors").fail("must be 6 (shift/scale/gate for attention and FFN) or 9 (with cross-attention)");
    }
    d.cond_width = ar.integer_or("cond_width", hidden, 1, kMaxDim);
    ar.finish();
  } else {
    d.cond_width = hidden;
  }
  d.timestep_freq_dim = r.integer_or("timestep_freq_dim", 256, 2, 1 << 16);
  r.finish();
  return d;
}

LlmSpec parse_llm(ObjectReader r) {
  LlmSpec l;
  l.vocab = r.integer("vocab", 1, 1 << 24);
  l.seq_len = r.integer("seq_len", 1, 1 << 24);
  l.tied_embeddings = r.boolean_or("tied_embeddings", false);
  r.finish();
  return l;
}

}  // namespace

std::int64_t ModelSpec::moe_layers() const {
  std::int64_t n = 0;
  for (std::int64_t l = 0; l < layers; ++l) n += moe.is_moe_layer(l) ? 1 : 0;
  return n;
}

std::int64_t ModelSpec::tokens_per_sample(bool training) const {
  if (kind == ModelKind::kLlm) return llm.seq_len;
  const std::int64_t all = dit.tokens_per_image();
  if (!training) return all;
  // MaskDiT keeps round((1 - ratio) * N) tokens.
  return all - static_cast<std::int64_t>(std::llround(dit.mask_ratio * static_cast<double>(all)));
}

ModelSpec parse_model(const Node& node) {
  ObjectReader r(node);
  ModelSpec m;
  m.name = r.string("name");
  m.kind = r.choice("kind", {"dit", "llm"}) == "dit" ? ModelKind::kDit : ModelKind::kLlm;
  const bool llm = m.kind == ModelKind::kLlm;
  m.hidden = r.integer("hidden", 1, kMaxDim);
  m.layers = r.integer("layers", 1, 4096);
  m.attention = parse_attention(ObjectReader(r.required("attention")), m.hidden, llm);
  m.ffn = r.has("ffn") ? parse_ffn(ObjectReader(r.required("ffn")), m.hidden, llm)
                       : FfnSpec{4 * m.hidden, llm ? Activation::kSwiglu : Activation::kGelu, !llm};
  if (auto moe = r.optional("moe")) m.moe = parse_moe(ObjectReader(*moe), m.layers);
  if (llm) {
    if (r.has("dit")) r.required("dit").fail("a model of kind \"llm\" takes no \"dit\" section");
    m.llm = parse_llm(ObjectReader(r.required("llm")));
  } else {
    if (r.has("llm")) r.required("llm").fail("a model of kind \"dit\" takes no \"llm\" section");
    m.dit = r.has("dit") ? parse_dit(ObjectReader(r.required("dit")), m.hidden, m.attention.heads)
                         : DitSpec{.cond_width = m.hidden};
  }
  if (auto other = r.optional("other_params")) {
    ObjectReader o(*other);
    m.other_params = o.number("count", 0, 1e13);
    m.other_params_note = o.string("source");
    o.finish();
  }
  r.finish();
  return m;
}

Json model_to_json(const ModelSpec& m) {
  Json j;
  j["name"] = m.name;
  j["kind"] = m.kind == ModelKind::kDit ? "dit" : "llm";
  j["hidden"] = m.hidden;
  j["layers"] = m.layers;
  j["attention"] = {{"heads", m.attention.heads},
                    {"kv_heads", m.attention.kv_heads},
                    {"head_dim", m.attention.head_dim},
                    {"causal", m.attention.causal},
                    {"bias", m.attention.qkv_bias}};
  j["ffn"] = {{"width", m.ffn.width},
              {"activation", m.ffn.activation == Activation::kGelu ? "gelu" : "swiglu"},
              {"bias", m.ffn.bias}};
  if (m.moe.enabled()) {
    Json routing;
    if (m.moe.routing.kind == RoutingKind::kExpertChoice) {
      routing = {{"kind", "expert_choice"},
                 {"capacity_factor", m.moe.routing.capacity_factor},
                 {"group_tokens", m.moe.routing.group_tokens}};
    } else {
      routing = {{"kind", "token_choice"}, {"top_k", m.moe.routing.top_k}, {"dropless", m.moe.routing.dropless()}};
      if (!m.moe.routing.dropless()) routing["capacity_factor"] = m.moe.routing.capacity_factor;
      routing["group_tokens"] = m.moe.routing.group_tokens;
    }
    j["moe"] = {{"experts", m.moe.experts},
                {"every", m.moe.every},
                {"first", m.moe.first},
                {"shared_experts", m.moe.shared_experts},
                {"routing", routing}};
  }
  if (m.kind == ModelKind::kDit) {
    Json dit = {{"latent_size", m.dit.latent_size},
                {"latent_channels", m.dit.latent_channels},
                {"patch", m.dit.patch},
                {"out_channels", m.dit.out_channels},
                {"mask_ratio", m.dit.mask_ratio},
                {"adaln",
                 {{"kind", m.dit.adaln == AdaLnKind::kPerBlock ? "per_block" : "single"},
                  {"vectors", m.dit.adaln_vectors},
                  {"cond_width", m.dit.cond_width}}},
                {"timestep_freq_dim", m.dit.timestep_freq_dim}};
    if (m.dit.text_tokens > 0) {
      dit["text"] = {{"tokens", m.dit.text_tokens}, {"width", m.dit.text_width}, {"kv_heads", m.dit.cross_kv_heads}};
    }
    j["dit"] = dit;
  } else {
    j["llm"] = {{"vocab", m.llm.vocab}, {"seq_len", m.llm.seq_len}, {"tied_embeddings", m.llm.tied_embeddings}};
  }
  if (m.other_params > 0) j["other_params"] = {{"count", m.other_params}, {"source", m.other_params_note}};
  return j;
}

}  // namespace ecsim
