// The CPU-reference model with token-choice MoE FFNs (kernels/model_ref, ModelConfig::routing =
// kTokenChoice, top-2 of 4 experts, raw-affinity gates): with a capacity (f_c = 1, so some picks
// drop) and dropless. The whole model's gradient against central differences, a tiny model learning
// a fixed batch, bitwise determinism, dropping inside the model, and the forward's op list against
// the simulator's for the same shape (simulator/model/moe_ops.cpp, token choice).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/model_ops.hpp"
#include "model_ref/model.hpp"
#include "model_ref/trainer.hpp"
#include "model_ref_checks.hpp"
#include "precondition.hpp"

using namespace ecsim;
using model_ref::ModelConfig;
using model_ref::Routing;

namespace {

// `base` with top-2 token choice; capacity_factor 0 is dropless.
ModelConfig token_choice(ModelConfig base, double capacity_factor) {
  base.routing = Routing::kTokenChoice;
  base.top_k = 2;
  base.capacity_factor = capacity_factor;
  return base;
}

// The routing of every MoE block in a training step after the router has been updated twice.
std::vector<ref::TokenChoiceRouting> routings_after_training(const ModelConfig& c) {
  model_ref::Trainer trainer(c, 4, model_ref::InitScheme::kAdaLnZero, {3e-3, 0.9, 0.999, 1e-8, 0.0});
  const model_ref::FlowBatch batch = model_ref::make_flow_batch(c, 2, 3);
  for (int s = 0; s < 3; ++s) trainer.step(batch);
  std::vector<ref::TokenChoiceRouting> r;
  for (std::int64_t l = 0; l < c.layers; ++l) {
    if (c.is_moe_layer(l)) r.push_back(trainer.last_forward().blocks[l].moe.token_routing);
  }
  return r;
}

}  // namespace

TEST_CASE("model_ref token choice: the loss's gradient matches central differences, with capacity and dropless") {
  // 16 tokens, top-2 of 4 experts: C = ceil(1 * 16 * 2 / 4) = 8 rows per expert, or dropless.
  for (double cf : {1.0, 0.0}) {
    CAPTURE(cf);
    const ModelConfig c = token_choice(test::gradient_config(), cf);
    // Routing that drops (cf = 1) must drop here, or the dropped picks' zero gradient goes unchecked.
    const model_ref::Model model(c);
    const auto params = model_ref::init_params(model.layout(), 7, model_ref::InitScheme::kAllRandom);
    const auto f = model.forward(params, model_ref::make_flow_batch(c, 2, 11));
    std::int64_t dropped = 0;
    for (const auto& b : f.blocks) dropped += b.moe.token_routing.expert.empty() ? 0 : b.moe.token_routing.dropped();
    MESSAGE("picks dropped: " << dropped);
    CHECK((cf > 0) == (dropped > 0));
    test::check_model_gradient(c, 7, 11);
  }
}

TEST_CASE("model_ref token choice: the tiny model cuts its loss tenfold on a fixed batch within 50 AdamW steps") {
  // The default tiny model (2 images of 16 tokens, MoE in blocks 1 and 3) with top-2 of 4 experts.
  for (double cf : {1.0, 0.0}) {
    CAPTURE(cf);
    const std::vector<double> losses = test::train(token_choice(ModelConfig{}, cf), 42, 50);
    MESSAGE("loss: first " << losses.front() << ", last " << losses.back());
    for (double l : losses) REQUIRE(std::isfinite(l));
    CHECK(losses.front() == doctest::Approx(2.0).epsilon(0.5));
    CHECK(losses.back() < 0.1 * losses.front());
  }
}

TEST_CASE("model_ref token choice: two runs with the same seed give bitwise-identical losses, another seed does not") {
  const ModelConfig c = token_choice(ModelConfig{}, 1.0);
  const std::vector<double> a = test::train(c, 9, 5), b = test::train(c, 9, 5), other = test::train(c, 10, 5);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(std::isfinite(a[i]));
    CHECK(a[i] == b[i]);
  }
  CHECK(other.front() != a.front());
}

TEST_CASE("model_ref token choice: experts hold at most C rows and some picks drop, dropless keeps all") {
  // T = 32 tokens, k = 2, E = 4: C = ceil(1 * 32 * 2 / 4) = 16 rows per expert.
  const ModelConfig capped = token_choice(ModelConfig{}, 1.0);
  const std::int64_t tokens = 32, cap = capped.token_choice_capacity(tokens);
  REQUIRE(cap == 16);
  std::int64_t dropped = 0;
  for (const ref::TokenChoiceRouting& r : routings_after_training(capped)) {
    REQUIRE(r.shape.tokens == tokens);
    CHECK(r.shape.capacity == cap);
    for (std::int64_t e = 0; e < capped.experts; ++e) {
      CAPTURE(e);
      const std::int64_t held = r.expert_offsets[e + 1] - r.expert_offsets[e];
      CHECK(held == std::min(r.counts[e], cap));
    }
    dropped += r.dropped();
  }
  MESSAGE("picks dropped with C = 16: " << dropped << " of " << 2 * tokens * 2);
  CHECK(dropped > 0);

  const ModelConfig dropless = token_choice(ModelConfig{}, 0.0);
  REQUIRE(dropless.dropless());
  CHECK(dropless.token_choice_capacity(tokens) == -1);
  const auto routed = routings_after_training(dropless);
  CHECK(routed.size() == 2);
  for (const ref::TokenChoiceRouting& r : routed) {
    CHECK(r.dropped() == 0);
    CHECK(r.rows() == tokens * 2);
    bool uneven = false;  // dropless loads follow the router: unequal rows per expert (grouped_gemm)
    for (std::int64_t e = 0; e < dropless.experts; ++e) uneven |= r.counts[e] != tokens * 2 / dropless.experts;
    CHECK(uneven);
  }
}

TEST_CASE("model_ref token choice: the forward runs the simulator's ops in its order, with its labels") {
  // moe_ops.cpp: tc_route, permute, fc1/fc2 as batched_gemm when capacity buffers are padded to C,
  // grouped_gemm when dropless, unpermute.
  for (double cf : {1.0, 0.0}) {
    CAPTURE(cf);
    const ModelConfig c = token_choice(ModelConfig{}, cf);
    const auto traced = test::model_trace(c, 2);
    const auto simulated = test::simulator_trace(c, 2);
    REQUIRE(traced.size() == simulated.size());
    for (std::size_t i = 0; i < traced.size(); ++i) {
      CAPTURE(i);
      CHECK(traced[i] == simulated[i]);
    }
    const std::string gemm = cf > 0 ? "batched_gemm" : "grouped_gemm";
    std::int64_t expert_gemms = 0, routes = 0;
    for (const auto& op : traced) {
      expert_gemms += op.label.rfind("moe.expert_fc", 0) == 0 && op.op == gemm ? 1 : 0;
      routes += op.op == "tc_route" && op.label == "moe.route" ? 1 : 0;
    }
    CHECK(expert_gemms == 4);  // fc1 and fc2 in blocks 1 and 3
    CHECK(routes == 2);
  }
  // The capacity is the simulator's, rounding included.
  for (double cf : {1.0, 1.25, 0.3}) {
    for (std::int64_t tokens : {32, 24, 7}) {
      CAPTURE(cf);
      CAPTURE(tokens);
      const ModelConfig c = token_choice(ModelConfig{}, cf);
      CHECK(c.token_choice_capacity(tokens) == token_choice_capacity(test::spec_of(c), tokens));
    }
  }
}

TEST_CASE("model_ref token choice: configurations it cannot run are rejected, routing groups are not required") {
  ModelConfig c = token_choice(ModelConfig{}, 1.0);
  c.top_k = 0;
  CHECK_THROWS_AS(model_ref::Model{c}, PreconditionError);
  c.top_k = 5;  // more than 4 experts
  CHECK_THROWS_AS(model_ref::Model{c}, PreconditionError);
  c = token_choice(ModelConfig{}, -1.0);
  CHECK_THROWS_AS(model_ref::Model{c}, PreconditionError);
  // 12 of 16 tokens kept: 2 images give 24 tokens, not whole groups of G = 16; token choice routes
  // the micro-batch at once (C = ceil(24 * 2 / 4) = 12), where expert choice throws.
  ModelConfig masked = token_choice(ModelConfig{}, 1.0);
  masked.mask_ratio = 0.25;
  masked.group_tokens = 1000;
  const model_ref::Model model(masked);
  const auto params = model_ref::init_params(model.layout(), 1, model_ref::InitScheme::kAllRandom);
  const auto f = model.forward(params, model_ref::make_flow_batch(masked, 2, 1));
  CHECK(std::isfinite(f.loss));
  CHECK(f.blocks[1].moe.token_routing.shape.capacity == 12);
}
