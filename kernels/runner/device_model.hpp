// The model's state on the device, in flat buffers with model_ref's layout (param_layout.hpp):
//   params  [P] bf16  what the kernels read
//   grads   [P] fp32 (or bf16: GradientStorage) gradients, accumulated over the micro-batches of a step
// and AdamW's state, as the scenario's optimizer dtypes say (OptimizerStorage):
//   kFp32Master  master [P] fp32, m, v [P] fp32; params rounded from the masters after every step
//   kBf16        m, v [P] bf16, no master: the step updates params in place
// Initialized as model_ref's Trainer does (init_params with DiT's adaLN-Zero, rounded to fp32), so a
// GPU run and a CPU-reference run from the same seed start from the same weights. `stored`: the
// experts this rank holds (all of them without expert parallelism).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <vector>

#include "adamw.cuh"
#include "model_ref/params.hpp"
#include "runner/device_memory.hpp"
#include "runner/grad_slice.hpp"
#include "runner/optimizer_storage.hpp"

namespace ecsim::runner {

class DeviceModel {
 public:
  DeviceModel(const model_ref::ModelConfig& config, model_ref::ExpertRange stored, std::uint64_t seed,
              model_ref::InitScheme scheme, OptimizerStorage storage,
              GradientStorage grad_storage = GradientStorage::kFp32);

  const model_ref::ModelConfig& config() const { return config_; }
  const model_ref::ParamLayout& layout() const { return layout_; }
  std::int64_t size() const { return layout_.total; }
  OptimizerStorage storage() const { return storage_; }
  GradientStorage grad_storage() const { return grad_storage_; }

  const __nv_bfloat16* param(model_ref::TensorRef r) const { return params_.get() + r.offset; }
  GradSlice grad(model_ref::TensorRef r) const { return grads().at(r.offset); }

  __nv_bfloat16* params() const { return params_.get(); }
  GradSlice grads() const { return {grads_.get(), grads16_.get()}; }
  // The whole gradient buffer, copied to the host (bf16 values widened); synchronizes the device.
  std::vector<float> download_grads() const;

  // AdamW step `step` (from 1) over every parameter from the gradients, on `stream`; params then
  // hold the updated weights.
  void adamw_step(const AdamWHyperparameters& h, std::int64_t step, cudaStream_t stream) const;

 private:
  model_ref::ModelConfig config_;
  model_ref::ParamLayout layout_;
  OptimizerStorage storage_;
  GradientStorage grad_storage_;
  DeviceArray<__nv_bfloat16> params_;
  DeviceArray<float> grads_;             // GradientStorage::kFp32
  DeviceArray<__nv_bfloat16> grads16_;   // GradientStorage::kBf16
  DeviceArray<float> master_, m_, v_;        // kFp32Master
  DeviceArray<__nv_bfloat16> m16_, v16_;     // kBf16
};

}  // namespace ecsim::runner
