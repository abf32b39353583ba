// The device model's parameter layout: model_ref's (params.hpp: named views into one flat buffer,
// the same names, shapes and offsets), so a gradient on the GPU and one from the CPU reference sit
// at the same index. The GPU adds one requirement: every tensor starts on a 16-byte boundary in
// the bf16 buffer (8 elements), which the cuBLAS GEMMs and the attention tiles need. With expert
// parallelism a rank stores only its own experts (`stored`, its ExpertShard): each expert's values
// are still the full model's (model_ref::init_params draws every expert from its own stream).
#pragma once

#include "model_ref/params.hpp"

namespace ecsim::runner {

// Throws PreconditionError naming the first tensor whose offset is not a multiple of 8 elements.
model_ref::ParamLayout device_param_layout(const model_ref::ModelConfig& c, model_ref::ExpertRange stored = {});

inline constexpr std::int64_t kParamAlignElements = 8;  // 16 bytes of bf16

}  // namespace ecsim::runner
