#include "runner_reference.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "model_ref/params.hpp"
#include "ref/tensor.hpp"

namespace ecsim::test {

model_ref::ModelConfig runner_tiny() {
  model_ref::ModelConfig c;
  c.hidden = 64;
  c.heads = 2;
  c.kv_heads = 1;
  c.head_dim = 64;
  c.ffn_width = 128;
  c.experts = 8;
  c.capacity_factor = 2.0;
  c.group_tokens = 16;  // C = 4
  c.text_tokens = 8;
  c.text_width = 64;
  c.cross_kv_heads = 1;
  c.cond_width = 32;
  c.timestep_freq_dim = 16;
  return c;
}

model_ref::ModelConfig runner_tiny_token_choice(double capacity_factor) {
  model_ref::ModelConfig c = runner_tiny();
  c.routing = model_ref::Routing::kTokenChoice;
  c.top_k = 2;
  c.capacity_factor = capacity_factor;
  return c;
}

RoundedReference rounded_reference(const model_ref::ModelConfig& c, ReferenceSeeds seeds, std::int64_t images) {
  const model_ref::Model model(c);
  RoundedReference r;
  r.params = model_ref::init_params(model.layout(), seeds.params, model_ref::InitScheme::kAllRandom);
  for (double& p : r.params) p = static_cast<double>(static_cast<float>(p));
  r.batch = model_ref::make_flow_batch(c, images, seeds.batch);
  for (auto* v : {&r.batch.x_t, &r.batch.velocity, &r.batch.text}) {
    for (double& x : *v) x = ref::round_to_bf16(x);
  }
  r.forward = model.forward(r.params, r.batch);
  return r;
}

double routing_margin(const model_ref::ModelConfig& c, const model_ref::ModelForward& f) {
  double margin = std::numeric_limits<double>::infinity();
  const std::int64_t experts = c.experts;
  // The gap between the n-th and (n+1)-th largest of v.
  auto gap = [&](std::vector<double> v, std::int64_t n) {
    if (n >= static_cast<std::int64_t>(v.size())) return;
    std::sort(v.begin(), v.end(), std::greater<>());
    margin = std::min(margin, std::log(v[static_cast<std::size_t>(n - 1)] / v[static_cast<std::size_t>(n)]));
  };
  for (const model_ref::BlockForward& b : f.blocks) {
    const std::vector<double>& p = b.moe.probs;  // [T, E]
    if (p.empty()) continue;
    const auto tokens = static_cast<std::int64_t>(p.size()) / experts;
    if (c.routing == model_ref::Routing::kExpertChoice) {
      for (std::int64_t g0 = 0; g0 < tokens; g0 += c.group_tokens) {
        for (std::int64_t e = 0; e < experts; ++e) {
          std::vector<double> column;
          for (std::int64_t t = g0; t < g0 + c.group_tokens; ++t) {
            column.push_back(p[static_cast<std::size_t>(t * experts + e)]);
          }
          gap(column, c.capacity());
        }
      }
    } else {
      for (std::int64_t t = 0; t < tokens; ++t) {
        gap(std::vector<double>(p.begin() + t * experts, p.begin() + (t + 1) * experts), c.top_k);
      }
    }
  }
  return margin;
}

}  // namespace ecsim::test
