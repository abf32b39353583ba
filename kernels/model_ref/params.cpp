#include "model_ref/params.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "precondition.hpp"

namespace ecsim::model_ref {
namespace {

class LayoutBuilder {
 public:
  explicit LayoutBuilder(ParamLayout& layout) : layout_(layout) {}

  TensorRef add(std::string name, std::vector<std::int64_t> shape, InitRule rule, bool bias, std::int64_t fan_in,
                std::int64_t fan_out) {
    std::int64_t size = 1;
    for (std::int64_t s : shape) size *= s;
    const TensorRef ref{layout_.total, size};
    layout_.tensors.push_back({std::move(name), std::move(shape), ref, rule, bias, fan_in, fan_out});
    layout_.total += size;
    return ref;
  }

  LinearRef linear(const std::string& name, std::int64_t in, std::int64_t out, bool bias, InitRule rule) {
    LinearRef l{add(name + ".weight", {in, out}, rule, false, in, out), {}, in, out};
    if (bias) l.bias = add(name + ".bias", {out}, rule, true, in, out);
    return l;
  }

  // `stored.count` experts from the model's expert `stored.first` on.
  ExpertsRef experts(const std::string& name, ExpertRange stored, std::int64_t d, std::int64_t f) {
    ExpertsRef x;
    const std::int64_t e = stored.count;
    x.experts = e;
    x.first = stored.first;
    x.hidden = d;
    x.width = f;
    x.fc1_weight = add_experts(name + "expert_fc1.weight", stored, {e, d, f}, false, d, f);
    x.fc1_bias = add_experts(name + "expert_fc1.bias", stored, {e, f}, true, d, f);
    x.fc2_weight = add_experts(name + "expert_fc2.weight", stored, {e, f, d}, false, f, d);
    x.fc2_bias = add_experts(name + "expert_fc2.bias", stored, {e, d}, true, f, d);
    return x;
  }

 private:
  TensorRef add_experts(std::string name, ExpertRange stored, std::vector<std::int64_t> shape, bool bias,
                        std::int64_t fan_in, std::int64_t fan_out) {
    const TensorRef ref = add(std::move(name), std::move(shape), InitRule::kXavier, bias, fan_in, fan_out);
    layout_.tensors.back().experts = stored.count;
    layout_.tensors.back().first_expert = stored.first;
    return ref;
  }

  ParamLayout& layout_;
};

// A stream of its own for tensor `index` (and, in an expert tensor, for the model's expert `expert`).
std::mt19937_64 tensor_stream(std::uint64_t seed, std::size_t index, std::int64_t expert) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(expert + 1)};
  return std::mt19937_64(seq);
}

// Uniform in [-limit, limit): the top 53 bits of one draw as a fraction of 2^53. What
// std::uniform_real_distribution does, without its long-double arithmetic (several times faster,
// which matters for the billions of parameters of a whole-model run).
void draw_uniform(std::mt19937_64& gen, double limit, std::span<double> v) {
  constexpr double kUnit = 0x1.0p-53;
  for (double& x : v) x = limit * (2.0 * static_cast<double>(gen() >> 11) * kUnit - 1.0);
}

void draw(const NamedTensor& t, InitScheme scheme, std::mt19937_64& gen, std::span<double> v) {
  if (t.bias) {
    draw_uniform(gen, 0.1, v);
  } else if (t.rule == InitRule::kNormal002 && scheme == InitScheme::kAdaLnZero) {
    std::normal_distribution<double> dist(0.0, 0.02);
    for (double& x : v) x = dist(gen);
  } else {
    draw_uniform(gen, std::sqrt(6.0 / static_cast<double>(t.fan_in + t.fan_out)), v);
  }
}

}  // namespace

ParamLayout make_param_layout(const ModelConfig& c, ExpertRange stored) {
  c.validate();
  if (stored.count < 0) stored = {0, c.experts};
  require(stored.first >= 0 && stored.count >= 0 && stored.first + stored.count <= c.experts &&
              (c.experts == 0 || stored.count > 0),
          "make_param_layout: experts [" + std::to_string(stored.first) + ", " +
              std::to_string(stored.first + stored.count) + ") outside the model's " + std::to_string(c.experts));
  ParamLayout layout;
  LayoutBuilder b(layout);
  const std::int64_t d = c.hidden;
  const std::int64_t hd = c.head_dim;
  layout.embed.patch = b.linear("embed.patch", c.patch_dim(), d, true, InitRule::kXavier);
  layout.embed.timestep_fc1 =
      b.linear("embed.timestep_fc1", c.timestep_freq_dim, c.cond_width, true, InitRule::kNormal002);
  layout.embed.timestep_fc2 = b.linear("embed.timestep_fc2", c.cond_width, c.cond_width, true, InitRule::kNormal002);
  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    BlockRefs r;
    r.moe = c.is_moe_layer(l);
    r.cross = c.has_cross_attention();
    r.modulation = b.linear(p + "adaln.modulation", c.cond_width, 6 * d, true, InitRule::kAdaLnZero);
    r.self_attn.qkv = b.linear(p + "self_attn.qkv", d, (c.heads + 2 * c.kv_heads) * hd, true, InitRule::kXavier);
    r.self_attn.out = b.linear(p + "self_attn.out", c.heads * hd, d, true, InitRule::kXavier);
    if (r.cross) {
      r.cross_attn.q = b.linear(p + "cross_attn.q", d, c.heads * hd, true, InitRule::kXavier);
      r.cross_attn.kv = b.linear(p + "cross_attn.kv", c.text_width, 2 * c.cross_kv_heads * hd, true, InitRule::kXavier);
      r.cross_attn.out = b.linear(p + "cross_attn.out", c.heads * hd, d, true, InitRule::kXavier);
    }
    if (r.moe) {
      r.moe_ffn.router = b.linear(p + "moe.router", d, c.experts, false, InitRule::kXavier);
      r.moe_ffn.experts = b.experts(p + "moe.", stored, d, c.ffn_width);
    } else {
      r.ffn.fc1 = b.linear(p + "ffn.fc1", d, c.ffn_width, true, InitRule::kXavier);
      r.ffn.fc2 = b.linear(p + "ffn.fc2", c.ffn_width, d, true, InitRule::kXavier);
    }
    layout.blocks.push_back(r);
  }
  layout.final.modulation = b.linear("final.modulation", c.cond_width, 2 * d, true, InitRule::kAdaLnZero);
  layout.final.linear = b.linear("final.linear", d, c.patch_dim(), true, InitRule::kAdaLnZero);
  return layout;
}

std::vector<double> init_params(const ParamLayout& layout, std::uint64_t seed, InitScheme scheme) {
  std::vector<double> p(static_cast<std::size_t>(layout.total), 0.0);
  // Units of one stream each: a tensor, or one expert's slice of an expert tensor.
  struct Unit {
    std::size_t tensor;
    std::int64_t expert;  // the model's index; -1: the whole tensor
    std::span<double> values;
  };
  std::vector<Unit> units;
  for (std::size_t i = 0; i < layout.tensors.size(); ++i) {
    const NamedTensor& t = layout.tensors[i];
    const bool zero = scheme == InitScheme::kAdaLnZero && (t.bias || t.rule == InitRule::kAdaLnZero);
    if (zero) continue;
    const auto v = at(std::span<double>(p), t.ref);
    if (t.experts == 0) {
      units.push_back({i, -1, v});
      continue;
    }
    const auto per_expert = static_cast<std::size_t>(t.ref.size / t.experts);
    for (std::int64_t e = 0; e < t.experts; ++e) {
      units.push_back({i, t.first_expert + e, v.subspan(static_cast<std::size_t>(e) * per_expert, per_expert)});
    }
  }
  // Every unit draws from its own stream, so the values do not depend on which thread draws them:
  // the runner initializes billions of parameters for whole-model runs.
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t u = next++; u < units.size(); u = next++) {
      std::mt19937_64 gen = tensor_stream(seed, units[u].tensor, units[u].expert);
      draw(layout.tensors[units[u].tensor], scheme, gen, units[u].values);
    }
  };
  const std::size_t workers = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), units.size());
  {
    std::vector<std::jthread> pool;
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
  }
  return p;
}

}  // namespace ecsim::model_ref
