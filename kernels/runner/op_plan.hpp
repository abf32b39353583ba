// The operators the runner times, in execution order, under the simulator's names and labels
// (simulator/model/model_ops.cpp, moe_ops.cpp) and the CPU-reference model's order
// (model_ref/model.hpp, block.hpp): `validate` matches measured and predicted ops by (label, layer,
// micro-batch, phase) and checks the name. The device code records exactly this list; the runner
// checks that after its first step, and tests/kernels/runner_plan_test.cpp checks the list against
// the simulator's and model_ref's without a GPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model_ref/config.hpp"
#include "model_ref/op_trace.hpp"

namespace ecsim::runner {

using model_ref::TracedOp;

// Block `layer`'s forward ops.
std::vector<TracedOp> block_forward_plan(const model_ref::ModelConfig& c, std::int64_t layer);
// Embedding (layer -1), blocks, final layer and loss (layer = layers): the whole forward.
std::vector<TracedOp> model_forward_plan(const model_ref::ModelConfig& c);
// The backward of every forward op, in reverse order, named as the simulator names backward tasks
// (engine/step_builder.cpp): a GEMM's backward keeps its name, attention_fwd becomes attention_bwd,
// every other op gets "_bwd".
std::vector<TracedOp> model_backward_plan(const model_ref::ModelConfig& c);
std::string backward_name(const std::string& forward_name);

}  // namespace ecsim::runner
