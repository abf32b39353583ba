// The model's state on the device, in flat buffers with model_ref's layout (param_layout.hpp):
//   params  [P] bf16  what the kernels read (rounded from the masters after every step)
//   master  [P] fp32  AdamW's master weights
//   grads   [P] fp32  gradients, accumulated over the micro-batches of a step
//   m, v    [P] fp32  AdamW's moments
// Initialized as model_ref's Trainer does (init_params with DiT's adaLN-Zero, rounded to fp32), so a
// GPU run and a CPU-reference run from the same seed start from the same weights. `stored`: the
// experts this rank holds (all of them without expert parallelism).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "model_ref/params.hpp"
#include "runner/device_memory.hpp"

namespace ecsim::runner {

class DeviceModel {
 public:
  DeviceModel(const model_ref::ModelConfig& config, model_ref::ExpertRange stored, std::uint64_t seed,
              model_ref::InitScheme scheme);

  const model_ref::ModelConfig& config() const { return config_; }
  const model_ref::ParamLayout& layout() const { return layout_; }
  std::int64_t size() const { return layout_.total; }

  const __nv_bfloat16* param(model_ref::TensorRef r) const { return params_.get() + r.offset; }
  float* grad(model_ref::TensorRef r) const { return grads_.get() + r.offset; }

  __nv_bfloat16* params() const { return params_.get(); }
  float* master() const { return master_.get(); }
  float* grads() const { return grads_.get(); }
  float* m() const { return m_.get(); }
  float* v() const { return v_.get(); }

 private:
  model_ref::ModelConfig config_;
  model_ref::ParamLayout layout_;
  DeviceArray<__nv_bfloat16> params_;
  DeviceArray<float> master_, grads_, m_, v_;
};

}  // namespace ecsim::runner
