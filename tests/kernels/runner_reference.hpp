// What the runner's GPU tests compare against (runner_gpu_test.cpp), on the CPU so that CI checks
// it too (runner_plan_test.cpp): the tiny models the device runs, their seeds, and model_ref's
// forward from what the device sees (weights rounded to fp32, inputs to bf16).
//
// The GPU step matches model_ref only where both route alike: in these tiny models (8 rows per
// expert) one choice flipped by a near tie moves the router's and experts' gradients by 10-20%,
// and bf16 moves the router's log-affinities by ~0.005 rms (bf16 weights alone; 0.015 at most).
// So each configuration's seeds are chosen such that the reference has every routing choice at
// least kMinRoutingMargin in log-affinity from a tie; CI checks that they still are.
#pragma once

#include <cstdint>
#include <vector>

#include "model_ref/config.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/model.hpp"

namespace ecsim::test {

// model_ref's tiny model within the GPU kernels' constraints: head_dim 64, widths multiples of 8;
// 8 experts, groups of 16 tokens, C = 4.
model_ref::ModelConfig runner_tiny();
// The same routed by top-2 token choice: capacity factor 1.0 (padded rows, some picks dropped),
// or dropless (ragged grouped GEMMs) when capacity_factor is 0.
model_ref::ModelConfig runner_tiny_token_choice(double capacity_factor);

struct ReferenceSeeds {
  std::uint64_t params = 0;  // init_params (kAllRandom)
  std::uint64_t batch = 0;   // make_flow_batch, 2 images
};
inline constexpr ReferenceSeeds kExpertChoiceSeeds{4, 14};
inline constexpr ReferenceSeeds kTokenChoiceSeeds{14, 13};
inline constexpr double kMinRoutingMargin = 0.03;

// model_ref's parameters and batch as the device holds them, and the forward on them.
struct RoundedReference {
  std::vector<double> params;  // init_params(seeds.params, kAllRandom), each rounded to fp32
  model_ref::FlowBatch batch;  // make_flow_batch(seeds.batch), x_t, velocity and text rounded to bf16
  model_ref::ModelForward forward;
};
RoundedReference rounded_reference(const model_ref::ModelConfig& c, ReferenceSeeds seeds, std::int64_t images);

// The smallest distance of a routing choice from a tie in `f`, as a log-ratio of affinities: expert
// choice, each (group, expert)'s C-th largest against its (C+1)-th; token choice, each token's k-th
// against its (k+1)-th. What bf16 would have to move a logit by to flip a choice.
double routing_margin(const model_ref::ModelConfig& c, const model_ref::ModelForward& f);

}  // namespace ecsim::test
