// The operators the runner times, in execution order, under the simulator's names and labels
// (simulator/model/model_ops.cpp, moe_ops.cpp) and the CPU-reference model's order
// (model_ref/model.hpp, block.hpp): `validate` matches measured and predicted ops by (label, layer,
// micro-batch, phase) and checks the name. The device code records exactly this list; the runner
// checks that after its first step, and tests/kernels/runner_plan_test.cpp checks the list against
// the simulator's and model_ref's without a GPU.
// With expert parallelism (ep > 1) the all-to-all exchanges sit where engine/step_builder.cpp puts
// its comm tasks: "all_to_all" labelled "ep.dispatch" right after the permute, "ep.combine" right
// before the unpermute (in the backward: after unpermute_bwd and before permute_bwd).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model_ref/config.hpp"
#include "model_ref/op_trace.hpp"

namespace ecsim::runner {

using model_ref::TracedOp;

// Block `layer`'s forward ops; `ep` the expert-parallel degree.
std::vector<TracedOp> block_forward_plan(const model_ref::ModelConfig& c, std::int64_t layer, std::int64_t ep = 1);
// Embedding (layer -1), blocks, final layer and loss (layer = layers): the whole forward.
std::vector<TracedOp> model_forward_plan(const model_ref::ModelConfig& c, std::int64_t ep = 1);
// The backward of every forward op, in reverse order, named as the simulator names backward tasks
// (engine/step_builder.cpp): a GEMM's backward keeps its name, attention_fwd becomes attention_bwd,
// an all-to-all stays an all-to-all, every other op gets "_bwd".
std::vector<TracedOp> model_backward_plan(const model_ref::ModelConfig& c, std::int64_t ep = 1);
std::string backward_name(const std::string& forward_name);

}  // namespace ecsim::runner
