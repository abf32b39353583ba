// Checks of the CPU-reference model that every routing shares (model_ref_test.cpp for expert
// choice, model_ref_tc_test.cpp for token choice): the whole model's gradient against central
// differences, a training run on a fixed batch, and the simulator's op list for the same shape.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_spec.hpp"
#include "model_ref/config.hpp"
#include "model_ref/model.hpp"
#include "model_ref/op_trace.hpp"

namespace ecsim::test {

// Smaller than the default tiny model and with MaskDiT masking on, so every path the model has
// (masking, GQA with different self and cross KV heads, dense and MoE blocks) is differentiated:
// 8 x 8 latent, patch 2 -> 16 tokens, 8 kept per image; 2 images -> 16 tokens = one routing group,
// C = 16 * 2 / 4 = 8 under expert choice.
model_ref::ModelConfig gradient_config();

// Every MoE block's routing decision (expert choice: the tokens in the slots; token choice: the
// picked experts and their rows, -1 when dropped): a finite-difference step that changed one would
// make the loss jump, and the difference quotient meaningless.
std::vector<std::vector<std::int64_t>> routings(const model_ref::ModelForward& f);

// The loss's gradient under kAllRandom init against central differences for 4 random elements of
// every tensor, |fd - analytic| <= 1e-7 + 1e-6 |analytic| (gradient_check.hpp); requires that no
// step changes the routing and that every tensor moves the loss. Reports through doctest.
void check_model_gradient(const model_ref::ModelConfig& c, std::uint64_t param_seed, std::uint64_t batch_seed);

// AdamW (lr 3e-3, no decay) from DiT's adaLN-Zero init on one fixed batch of 2 images: the losses
// before each step.
std::vector<double> train(const model_ref::ModelConfig& c, std::uint64_t seed, std::int64_t steps);

// The simulator's model for a ModelConfig (the inverse of the runner's model_config_from_spec):
// EC-DiT's per-block adaLN with 6 vectors, GeLU FFN, biases on every GEMM but the router.
ModelSpec spec_of(const model_ref::ModelConfig& c);
// The simulator's forward ops (model_ops) for `images` per micro-batch, as (op, label, layer).
std::vector<model_ref::TracedOp> simulator_trace(const model_ref::ModelConfig& c, std::int64_t images);
// model_ref's traced forward on a batch of `images`.
std::vector<model_ref::TracedOp> model_trace(const model_ref::ModelConfig& c, std::int64_t images);

}  // namespace ecsim::test
