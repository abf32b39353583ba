#include "model_ref_checks.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "gradient_check.hpp"
#include "model/model_ops.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/trainer.hpp"

namespace ecsim::test {

model_ref::ModelConfig gradient_config() {
  model_ref::ModelConfig c;
  c.hidden = 16;
  c.heads = 4;
  c.kv_heads = 2;
  c.cross_kv_heads = 1;
  c.head_dim = 4;
  c.ffn_width = 32;
  c.text_tokens = 4;
  c.text_width = 12;
  c.cond_width = 8;
  c.timestep_freq_dim = 8;
  c.mask_ratio = 0.5;
  return c;
}

std::vector<std::vector<std::int64_t>> routings(const model_ref::ModelForward& f) {
  std::vector<std::vector<std::int64_t>> r;
  for (const auto& b : f.blocks) {
    r.push_back(b.moe.routing.token);
    r.push_back(b.moe.token_routing.expert);
    r.push_back(b.moe.token_routing.row);
  }
  return r;
}

void check_model_gradient(const model_ref::ModelConfig& c, std::uint64_t param_seed, std::uint64_t batch_seed) {
  const model_ref::Model model(c);
  const model_ref::FlowBatch batch = model_ref::make_flow_batch(c, 2, batch_seed);
  // Random adaLN and final layers: under DiT's zero init most gradients would be exactly 0.
  std::vector<double> params = model_ref::init_params(model.layout(), param_seed, model_ref::InitScheme::kAllRandom);
  const model_ref::ModelForward base = model.forward(params, batch);
  const std::vector<double> grads = model.backward(params, batch, base);
  const GradTolerance tol;
  std::mt19937_64 gen(5);
  std::size_t checked = 0, mismatches = 0;
  double worst = 0, worst_ratio = 0;  // largest |fd - analytic|, and its ratio to the tolerance
  std::string worst_where;
  for (const model_ref::NamedTensor& t : model.layout().tensors) {
    std::uniform_int_distribution<std::int64_t> pick(0, t.ref.size - 1);
    double largest_fd = 0;
    for (int sample = 0; sample < 4; ++sample) {
      const auto i = static_cast<std::size_t>(t.ref.offset + pick(gen));
      const double x = params[i];
      params[i] = x + tol.step;
      const model_ref::ModelForward up = model.forward(params, batch);
      params[i] = x - tol.step;
      const model_ref::ModelForward down = model.forward(params, batch);
      params[i] = x;
      REQUIRE_MESSAGE(routings(up) == routings(base), t.name << ": a step changed the routing");
      REQUIRE_MESSAGE(routings(down) == routings(base), t.name << ": a step changed the routing");
      const double fd = (up.loss - down.loss) / (2 * tol.step);
      const double err = std::abs(fd - grads[i]);
      const double allowed = tol.atol + tol.rtol * std::abs(grads[i]);
      if (err > allowed) {
        ++mismatches;
        MESSAGE(t.name << "[" << i - static_cast<std::size_t>(t.ref.offset) << "]: finite difference " << fd
                       << ", analytic " << grads[i]);
      }
      if (err / allowed > worst_ratio) {
        worst_ratio = err / allowed;
        worst = err;
        worst_where = t.name;
      }
      largest_fd = std::max(largest_fd, std::abs(fd));
      ++checked;
    }
    // A tensor the loss ignored would pass with 0 = 0; every tensor here must move the loss.
    CHECK_MESSAGE(largest_fd > 1e-6, t.name << " does not change the loss (largest |fd| " << largest_fd << ")");
  }
  MESSAGE(checked << " elements of " << model.layout().tensors.size() << " tensors; largest error " << worst << " ("
                  << worst_ratio << " of the tolerance) in " << worst_where);
  CHECK(mismatches == 0);
}

std::vector<double> train(const model_ref::ModelConfig& c, std::uint64_t seed, std::int64_t steps) {
  model_ref::Trainer trainer(c, seed, model_ref::InitScheme::kAdaLnZero, {3e-3, 0.9, 0.999, 1e-8, 0.0});
  const model_ref::FlowBatch batch = model_ref::make_flow_batch(c, 2, seed + 1);
  std::vector<double> losses;
  for (std::int64_t s = 0; s < steps; ++s) losses.push_back(trainer.step(batch));
  return losses;
}

ModelSpec spec_of(const model_ref::ModelConfig& c) {
  ModelSpec m;
  m.name = "model_ref";
  m.kind = ModelKind::kDit;
  m.hidden = c.hidden;
  m.layers = c.layers;
  m.attention = {c.heads, c.kv_heads, c.head_dim, false, true};
  m.ffn = {c.ffn_width, Activation::kGelu, true};
  m.moe.experts = c.experts;
  m.moe.every = c.moe_every;
  m.moe.first = c.moe_first;
  m.moe.routing.kind = c.routing == model_ref::Routing::kTokenChoice ? RoutingKind::kTokenChoice
                                                                       : RoutingKind::kExpertChoice;
  m.moe.routing.capacity_factor = c.capacity_factor;
  m.moe.routing.group_tokens = c.group_tokens;
  m.moe.routing.top_k = c.top_k;
  m.dit.latent_size = c.latent_size;
  m.dit.latent_channels = c.latent_channels;
  m.dit.out_channels = c.latent_channels;
  m.dit.patch = c.patch;
  m.dit.mask_ratio = c.mask_ratio;
  m.dit.text_tokens = c.text_tokens;
  m.dit.text_width = c.text_width;
  m.dit.cross_kv_heads = c.cross_kv_heads;
  m.dit.cond_width = c.cond_width;
  m.dit.timestep_freq_dim = c.timestep_freq_dim;
  return m;
}

std::vector<model_ref::TracedOp> simulator_trace(const model_ref::ModelConfig& c, std::int64_t images) {
  OpContext ctx;
  ctx.samples = images;
  std::vector<model_ref::TracedOp> ops;
  for (const Op& op : model_ops(spec_of(c), ctx)) ops.push_back({op.name, op.label, op.layer});
  return ops;
}

std::vector<model_ref::TracedOp> model_trace(const model_ref::ModelConfig& c, std::int64_t images) {
  const model_ref::Model model(c);
  const auto params = model_ref::init_params(model.layout(), 4, model_ref::InitScheme::kAllRandom);
  std::vector<model_ref::TracedOp> ops;
  model.forward(params, model_ref::make_flow_batch(c, images, 3), &ops);
  return ops;
}

}  // namespace ecsim::test
